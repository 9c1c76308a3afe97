import feather as ft

model = ft.Model("numpy-echo", description="Imports numpy, so its cold start includes a real import.",
                 requirements=["numpy>=2"])


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def echo(text: str) -> str:
    import numpy as np
    return str(np.array([len(text)])[0]) and text
