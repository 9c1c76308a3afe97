import feather as ft

model = ft.Model("echo", description="Returns its input unchanged; used to measure platform overhead.")


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def echo(text: str) -> str:
    """Return the text as given."""
    return text
