from pathlib import Path

import feather as ft
import numpy as np
from PIL import Image, ImageOps


def features(image):  # a dark-on-light drawing -> the 64 values (8x8, 0-16) of load_digits()
    ink = ImageOps.invert(image.convert("L"))
    ink = ImageOps.pad(ink.crop(ink.getbbox()), (8, 8), Image.Resampling.BOX)
    return np.asarray(ink, dtype=float).reshape(-1) * 16 / 255

def load():  # once per worker: the scikit-learn weights saved by train.py, no pickle
    return dict(np.load(Path(__file__).with_name("weights.npz")))

model = ft.Model("digits", description="Reads a handwritten digit.", load=load, files=["weights.npz"])

@model.step(inputs=[ft.Image("image")], outputs=[ft.Label("digit", top_k=3)])
def classify(image, context):  # logistic regression: softmax of coef @ x + intercept
    scores = context["coef"] @ features(image) + context["intercept"]
    return dict(zip(context["classes"], np.exp(scores - np.logaddexp.reduce(scores))))
