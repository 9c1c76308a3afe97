"""Two steps that each take a while: for tests of a chain's one deadline."""
import time

import feather as ft

model = ft.Model("slow-chain", description="Waits, then waits again.")


@model.step(inputs=[ft.Number("seconds")], outputs=[ft.Number("waited")])
def first(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@model.step(inputs=[ft.Number("waited")], outputs=[ft.Number("total")])
def second(waited: float) -> float:
    time.sleep(waited)
    return waited * 2
