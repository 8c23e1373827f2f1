"""The subfile of a WRK panel: one page of rows, each with its Opt input field."""
from __future__ import annotations

from typing import Any, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from ..layout import Column, Row, format_cells


class Subfile(Widget, can_focus=True):
    """The list of a WRK panel: one page of rows, each with its Opt input field.

    Typed options are kept by row key across pages (as a 5250 subfile keeps changed
    records) and are processed top-down when Enter is pressed.
    """

    COMPONENT_CLASSES = {"subfile--field", "subfile--cursor", "subfile--error", "subfile--alert",
                         "subfile--bright", "subfile--warn", "subfile--found"}
    DEFAULT_CSS = "Subfile { height: 1fr; }"     # the colours and attributes are in flash4i.tcss

    class Resized(Message):
        def __init__(self, rows: int):
            super().__init__()
            self.rows = rows

    def __init__(self, opt_width: int = 2, empty_text: str = "", **kw):
        super().__init__(**kw)
        self.opt_width, self.empty_text = opt_width, empty_text
        self.rows: List[Row] = []
        self.columns: List[Column] = []
        self.cursor, self.col = 0, 0
        self.options: Dict[Hashable, str] = {}
        self.option_order: Dict[Hashable, Any] = {}
        self.errors: set = set()
        self.found: Optional[Hashable] = None

    # ---- content
    def set_rows(self, rows: Sequence[Row], cursor_key: Optional[Hashable] = None) -> None:
        self.rows = list(rows)
        keys = [r.key for r in self.rows]
        self.cursor = keys.index(cursor_key) if cursor_key in keys else min(self.cursor, max(0, len(rows) - 1))
        self.refresh()

    def update_rows(self, rows: Sequence[Row]) -> None:
        """Keyed update (live panels): replace rows in place, keep the cursor on its key."""
        key = self.current_key()
        self.set_rows(rows, cursor_key=key)

    def current_key(self) -> Optional[Hashable]:
        return self.rows[self.cursor].key if 0 <= self.cursor < len(self.rows) else None

    def current_row(self) -> Optional[Row]:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def typed(self) -> List[Tuple[Hashable, str]]:
        """The options typed, top-down, blanks left out."""
        entries = [(k, v.strip()) for k, v in self.options.items() if v.strip()]
        return sorted(entries, key=lambda kv: self.option_order.get(kv[0], 0))

    def clear_options(self, keys: Optional[Iterable[Hashable]] = None) -> None:
        for key in list(keys if keys is not None else self.options):
            self.options.pop(key, None)
            self.errors.discard(key)
        self.refresh()

    def mark_error(self, key: Hashable) -> None:
        self.errors = {key}
        keys = [r.key for r in self.rows]
        if key in keys:
            self.cursor, self.col = keys.index(key), 0
        self.refresh()

    # ---- drawing
    def _style(self, name: str):
        return self.get_component_rich_style(f"subfile--{name}")

    def render(self) -> Text:
        width = self.size.width or 80
        out = []
        for i in range(max(1, self.size.height)):
            if i < len(self.rows):
                out.append(self._render_row(i, width))
            elif i == 0 and self.empty_text:
                out.append(Text("  " + self.empty_text))
            else:
                out.append(Text(""))
        return Text("\n").join(out)

    def _render_row(self, i: int, width: int) -> Text:
        row = self.rows[i]
        value = self.options.get(row.key, "").ljust(self.opt_width)[:self.opt_width]
        line = Text(" ")
        style = self._style("error") if row.key in self.errors else self._style("field")
        for pos, ch in enumerate(value):
            here = self.has_focus and i == self.cursor and pos == self.col
            line.append(ch, self._style("cursor") + style if here else style)
        line.append("   ")
        highlight = self._style("found") if row.key == self.found else None
        for key, text in format_cells(self.columns, row.cells):
            cell_style = self._style(row.styles[key]) if key in row.styles else None
            if highlight is not None:
                cell_style = highlight if cell_style is None else cell_style + highlight
            line.append(text, cell_style)
            line.append(" ")
        line.truncate(width)
        line.rstrip()
        return line

    # ---- keys
    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(event.size.height))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if 0 <= event.y < len(self.rows):
            self.cursor, self.col = event.y, 0
            self.focus()
            self.refresh()

    def _put(self, ch: str) -> None:
        row = self.current_row()
        if row is None:
            return
        value = list(self.options.get(row.key, "").ljust(self.opt_width)[:self.opt_width])
        value[self.col] = ch
        self.options[row.key] = "".join(value).rstrip()
        self.option_order[row.key] = row.order if row.order is not None else row.key
        self.errors.discard(row.key)
        if ch != " ":
            self.col += 1
            if self.col >= self.opt_width:      # a full field advances, as on a 5250
                self._move(1)

    def _move(self, delta: int) -> None:
        target = self.cursor + delta
        self.col = 0
        if target < 0:
            self.screen.focus_previous()
        elif target >= len(self.rows):
            self.screen.focus_next()
        else:
            self.cursor = target

    def on_key(self, event: events.Key) -> None:
        key, ch = event.key, event.character
        if ch is not None and ch.isdigit():
            self._put(ch)
        elif key == "backspace":
            if self.col > 0:
                self.col -= 1
            self._put(" ")
        elif key in ("delete", "space"):
            self._put(" ")
            if key == "space":
                self.col = min(self.col + 1, self.opt_width - 1)
        elif key == "left":
            self.col = max(0, self.col - 1)
        elif key == "right":
            self.col = min(self.opt_width - 1, self.col + 1)
        elif key in ("up", "down"):
            self._move(-1 if key == "up" else 1)
        elif key == "home":
            self.cursor, self.col = 0, 0
        elif key == "end":
            self.cursor, self.col = max(0, len(self.rows) - 1), 0
        else:
            return
        event.stop()
        event.prevent_default()
        self.refresh()
