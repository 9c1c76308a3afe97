"""Train the digits classifier and save its weights: `python train.py` in this folder.

Needs numpy, pillow and scikit-learn (the app itself needs only numpy and pillow).
Each 8x8 image of `load_digits()` is drawn the way a user's picture arrives (dark ink on
white, 64x64) and passed through `app.features`, so training sees what serving sees.
The weights go to weights.npz as plain arrays: no pickle, readable with numpy alone.
"""
from __future__ import annotations

import numpy as np
from app import features
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def render(pixels: np.ndarray, size: int = 64) -> Image.Image:
    """An 8x8 load_digits image (0-16, ink high) as a dark-on-light grayscale picture."""
    gray = (255 - pixels * 255 / 16).round().astype(np.uint8)
    return Image.fromarray(gray).resize((size, size), Image.Resampling.NEAREST)


def main() -> None:
    digits = load_digits()
    x = np.array([features(render(p)) for p in digits.images])
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25,
                                                        random_state=0)
    held_out = LogisticRegression(max_iter=5000, C=0.1).fit(x_train, y_train)
    print(f"held-out accuracy: {held_out.score(x_test, y_test):.3f}")
    clf = LogisticRegression(max_iter=5000, C=0.1).fit(x, digits.target)  # then use all data
    np.savez_compressed("weights.npz", coef=clf.coef_.astype(np.float32),
                        intercept=clf.intercept_.astype(np.float32),
                        classes=clf.classes_.astype(str))
    print("wrote weights.npz")


if __name__ == "__main__":
    main()
