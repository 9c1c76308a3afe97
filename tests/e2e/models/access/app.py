"""Copies the file it is given, after a nap if asked: runs that hold files, and runs still going."""
import time

import feather as ft

model = ft.Model("access", description="Copies a file, optionally slowly: for the access matrix test.")


@model.step(inputs=[ft.File("doc"), ft.Number("seconds", default=0, minimum=0, maximum=60)],
            outputs=[ft.File("copy", filename="copy.txt"), ft.Text("size")])
def copy(doc, seconds: float):
    time.sleep(seconds)
    data = doc.read_bytes()
    return data, str(len(data))
