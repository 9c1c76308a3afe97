import feather as ft

model = ft.Model("batched", description="Doubles numbers, several runs at once.")


@model.step(inputs=[ft.Number("x"), ft.Text("name")],
            outputs=[ft.Number("y"), ft.Number("size"), ft.File("note")],
            batch=ft.Batch(max_size=16, max_wait_ms=200))
def double(x: list[float], name: list[str]) -> list[tuple]:
    """Each input arrives as a list, one value per run; one result per run goes back."""
    if 13 in x:
        raise ValueError("13 is unlucky")
    return [(v * 2, len(x), f"for {n}".encode()) for v, n in zip(x, name)]
