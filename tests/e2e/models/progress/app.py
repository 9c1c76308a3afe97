import time

import feather as ft

model = ft.Model("progress", description="Reports progress while it works.")


@model.step(inputs=[ft.Number("steps", integer=True, minimum=1, maximum=50)], outputs=[ft.Text("done")])
def work(steps: int) -> str:
    for i in range(steps):
        ft.progress((i + 1) / steps, f"step {i + 1} of {steps}")
        time.sleep(0.3)
    return f"did {steps} steps"
