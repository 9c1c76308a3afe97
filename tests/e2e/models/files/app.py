"""Copies a file it is given: for tests of who may send and read which files."""
import feather as ft

model = ft.Model("files", description="Copies the file it is given.")


@model.step(inputs=[ft.File("doc")], outputs=[ft.File("copy", filename="copy.bin"), ft.Text("size")])
def copy(doc):
    data = doc.read_bytes()
    return data, str(len(data))
