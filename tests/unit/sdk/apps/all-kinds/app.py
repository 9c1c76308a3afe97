"""Every component kind, with most of their options: the portal's tests render this manifest."""
import feather as ft

model = ft.Model("all-kinds", description="Every **component** kind, for the portal's tests.")


@model.step(
    inputs=[
        ft.Text("prompt", description="What to say", min_length=2, max_length=20, placeholder="Say something",
                multiline=True),
        ft.Text("title", default="Untitled"),
        ft.Number("count", minimum=1, maximum=10, integer=True),
        ft.Number("ratio", default=0.5),
        ft.Slider("temperature", minimum=0, maximum=2, step=0.1, default=1.0),
        ft.Checkbox("shout"),
        ft.Choice("color", options=["red", "green", "blue"]),
        ft.Choice("size", options=["xs", "s", "m", "l", "xl"], default="m"),
        ft.MultiChoice("tags", options=["a", "b", "c", "d"], min_selected=1, max_selected=2),
        ft.Image("photo", max_size=1_000_000),
        ft.Audio("voice"),
        ft.File("document", accept=[".csv", ".txt"]),
        ft.Table("rows", columns={"x": "number", "name": "string", "ok": "boolean"}, min_rows=1, max_rows=5),
    ],
    outputs=[
        ft.Text("answer"), ft.Markdown("notes"), ft.Number("score"), ft.Label("kind", top_k=3), ft.JSON("details"),
        ft.Image("marked"), ft.Audio("speech"), ft.File("report"), ft.Table("result"), ft.Gallery("pictures"),
        ft.PickList("words", multiple=True, min_selected=1, max_selected=2), ft.ImageRegions("spots", multiple=False),
        ft.EditableText("draft"),
    ])
def first(**inputs):
    raise NotImplementedError  # only the manifest is used


@model.step(inputs=[ft.PickList("words", multiple=True, min_selected=1, max_selected=2),
                    ft.ImageRegions("spots", multiple=False), ft.EditableText("draft"), ft.Number("extra", default=3)],
            outputs=[ft.Text("final")])
def second(**inputs):
    raise NotImplementedError
