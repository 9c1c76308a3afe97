import feather as ft

model = ft.Model("hello", description="Greets whoever you name.",
                 examples=[{"name": "World"}, {"name": "Ada Lovelace"}])


@model.step(inputs=[ft.Text("name", label="Your name", max_length=100)], outputs=[ft.Text("greeting")])
def greet(name: str) -> str:
    """Say hello."""
    return f"Hello, {name}!"
