import time

import feather as ft

model = ft.Model("slow", description="Sleeps for as long as asked, to test waiting and canceling.")


@model.step(inputs=[ft.Number("seconds", minimum=0, maximum=60)], outputs=[ft.Text("done")])
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}s"
