"""Writes its answer a word at a time, as a language model streams tokens."""
import time

import feather as ft

model = ft.Model("stream", description="Counts to n, a word at a time.")


@model.step(inputs=[ft.Number("n", integer=True, minimum=1, maximum=100)], outputs=[ft.Text("words")])
def count(n: int):
    for i in range(1, n + 1):
        time.sleep(0.15)
        yield f"{i} " if i < n else f"{i}"
