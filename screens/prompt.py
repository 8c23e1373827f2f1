"""F4 on the command line: the command prompter (`Display Flash History (FLDSPHST)`)."""
from __future__ import annotations

from typing import Any, Dict

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from .command import CommandError, CommandSpec, check
from .layout import Column, Row
from .panel import EXIT, Panel, SelectPanel
from .widgets import Field, PromptRow


class CommandPrompt(Panel):
    """Type a value for each parameter and press Enter to run the command. F4 on a
    parameter with fixed values lists them."""

    IS_DIALOG = True
    HEADER_HEIGHT = 1
    INSTRUCTIONS = "Type choices, press Enter."
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (12, "Cancel"))

    def __init__(self, spec: CommandSpec, values: Dict[str, str], **kw):
        super().__init__(**kw)
        self.spec, self.values = spec, dict(values)

    def panel_title(self) -> str:
        return f"{self.spec.title} ({self.spec.name})"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body", can_focus=False):
            yield from self.rows()
            if not self.spec.params:
                yield Static(" (This command has no parameters: press Enter to run it)")

    def rows(self):
        for p in self.spec.params:
            yield PromptRow(p.prompt, self.values.get(p.keyword, ""), p.width, p.keyword, p.hint(),
                            id=f"p-{p.keyword}")

    def on_mount(self) -> None:
        super().on_mount()
        fields = self.query(Field)
        if fields:
            fields.first(Field).focus()
        self.set_more(False)

    def typed(self) -> Dict[str, str]:
        out = {}
        for p in self.spec.params:
            value = self.query_one(f"#p-{p.keyword}", PromptRow).field.value.strip()
            out[p.keyword] = value if value.startswith("'") else value.upper()
        return out

    def press_enter(self) -> None:
        self.clear_message()
        values = self.typed()
        for f in self.query(Field):
            f.set_error("")
        try:
            check(self.spec, values)
        except CommandError as exc:
            keyword = next((p.keyword for p in self.spec.params if p.keyword in str(exc)), None)
            if keyword:
                target = self.query_one(f"#p-{keyword}", PromptRow).field
                target.set_error(str(exc))
                target.focus()
            self.message(str(exc))
            return
        self.dismiss({k: v.strip("'") for k, v in values.items()})

    def fkey_5(self) -> None:
        for p in self.spec.params:
            self.query_one(f"#p-{p.keyword}", PromptRow).field.value = self.values.get(p.keyword, "")

    def fkey_4(self) -> None:
        focused = self.focused
        param = next((p for p in self.spec.params if isinstance(focused, Field) and focused.path == p.keyword), None)
        if param is None or not param.choices:
            self.message("F4 is not available for this parameter.")
            return
        target: Field = focused  # type: ignore[assignment]

        def chosen(value: Any) -> None:
            if isinstance(value, str) and value != EXIT:
                target.value = value
        self.open(SelectPanel(f"Specify Value for Parameter {param.keyword}",
                              [Row(c, {"value": c}) for c in param.choices], [Column("value", "Value", 12)]), chosen)
