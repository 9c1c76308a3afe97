import feather as ft

model = ft.Model("two-steps", description="Shouts, then counts: a chain of two steps.")


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("shout")])
def shout(text: str) -> str:
    return text.upper()


@model.step(inputs=[ft.Text("shout"), ft.Number("times", default=1, integer=True)],
            outputs=[ft.Text("result"), ft.Number("length")])
def repeat(shout: str, times: int) -> tuple[str, int]:
    result = " ".join([shout] * times)
    return result, len(result)
