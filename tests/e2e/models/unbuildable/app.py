import feather as ft

model = ft.Model("unbuildable", description="Requirements that cannot be installed.",
                 requirements=["feather-test-package-that-does-not-exist==0.0.1"])


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def echo(text: str) -> str:
    return text
