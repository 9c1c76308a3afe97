import feather as ft

model = ft.Model("spell", description="Splits a word into letters; spells the ones you pick.")


@model.step(inputs=[ft.Text("word", max_length=40), ft.Number("times", default=1)],
            outputs=[ft.PickList("letters", multiple=True), ft.Text("word")])
def split(word: str, times: float) -> tuple[list[str], str]:
    """Offer the word's letters."""
    return list(word), word * int(times)


@model.step(inputs=[ft.PickList("letters", multiple=True), ft.Text("word")], outputs=[ft.Text("spelled")])
def spell(letters: list[str], word: str) -> str:
    """Spell the chosen letters after the word."""
    return f"{word}:{''.join(letters)}"
