import feather as ft

model = ft.Model("broken", description="A step that always raises.")


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def explode(text: str) -> str:
    raise ValueError(f"cannot handle {text!r}")
