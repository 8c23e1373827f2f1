"""Input fields: a 5250 field (green, underlined, reverse image in error), the `===>` command
line and the prompter's `Label . . . :  value  hint` row."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static

from ..fmt import leader


class Field(Input):
    """An input field: green, underlined, reverse image when in error (DSPATR(RI))."""

    DEFAULT_CSS = """
    Field { border: none; height: 1; padding: 0; margin: 0; background: $background; }
    Field:focus { border: none; background: $background; }
    """

    def __init__(self, value: str = "", width: int = 10, path: str = "", max_length: int = 0, **kw):
        kw.setdefault("compact", True)
        kw["classes"] = ("field " + kw.get("classes", "")).strip()   # a class added later costs a restyle
        super().__init__(value=value, max_length=max_length or width, **kw)
        self.path = path
        self.error_text = ""
        self.styles.width = width + 1

    def set_error(self, text: str) -> None:
        self.error_text = text
        self.set_class(bool(text), "-error")


class CommandLine(Field):
    """The `===>` command line."""


class PromptRow(Horizontal):
    """`Label . . . . . . :  value____  hint`, the prompter's line (CL prompt, environment editor)."""

    DEFAULT_CSS = "PromptRow { height: 1; }"
    LABEL_WIDTH = 34

    def __init__(self, label: str, value: str, width: int, path: str, hint: str = "", max_length: int = 0,
                 label_width: int = 0, **kw):
        super().__init__(**kw)
        self.label, self.text, self.field_width, self.path, self.hint = label, value, width, path, hint
        self.max_length, self.label_width = max_length or width, label_width or self.LABEL_WIDTH

    def compose(self) -> ComposeResult:
        yield Static(" " + leader(self.label, self.label_width - 1) + " ", classes="label")
        yield Field(self.text, self.field_width, self.path, max_length=self.max_length)
        if self.hint:
            yield Static(" " + self.hint, classes="hint")

    @property
    def field(self) -> Field:
        return self.query_one(Field)
