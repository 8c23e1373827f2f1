"""Fixed lines of a panel: the title line, header blocks and the option / function-key legends."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

from rich.text import Text
from textual.widget import Widget

from ..layout import legend_pages, title_line


class TitleLine(Widget):
    """Line 1: the title centred, the system name right-aligned."""

    DEFAULT_CSS = "TitleLine { height: 1; }"

    def __init__(self, title: str, system_name: str, **kw):
        super().__init__(**kw)
        self.title_text, self.system_name = title, system_name

    def render(self) -> Text:
        return Text(title_line(self.title_text, self.system_name, self.size.width or 80))


class Lines(Widget):
    """A fixed block of lines; RIGHT (date and time) is right-aligned on the first line."""

    DEFAULT_CSS = "Lines { height: auto; }"

    def __init__(self, lines: Sequence[Any] = (), height: int = 0, **kw):
        super().__init__(**kw)
        self.lines: List[Any] = list(lines)
        self.right = ""
        if height:
            self.styles.height = height

    def set(self, lines: Sequence[Any], right: Optional[str] = None) -> None:
        self.lines = list(lines)
        if right is not None:
            self.right = right
        self.refresh(layout=True)

    def render(self) -> Text:
        width = self.size.width or 80
        out = [Text(line) if isinstance(line, str) else line for line in self.lines] or [Text("")]
        if self.right:
            first = out[0].copy()
            pad = max(1, width - 1 - len(self.right) - len(first.plain))
            first.append(" " * pad + self.right)
            out[0] = first
        return Text("\n").join(out)


class Legend(Widget):
    """An option or function-key legend; pages with F23 / F24 when it does not fit."""

    DEFAULT_CSS = "Legend { height: 2; }"

    def __init__(self, items: Sequence[str], more: str, indent: int = 1, **kw):
        super().__init__(**kw)
        self.items, self.more, self.indent, self.page = list(items), more, indent, 0

    def pages(self) -> List[List[str]]:
        height = self.styles.height.value if self.styles.height and self.styles.height.value else 2
        return legend_pages(self.items, self.size.width or 80, int(height), self.more, self.indent)

    def next_page(self) -> bool:
        pages = self.pages()
        if len(pages) < 2:
            return False
        self.page = (self.page + 1) % len(pages)
        self.refresh()
        return True

    def render(self) -> Text:
        pages = self.pages()
        return Text("\n".join(pages[self.page % len(pages)]))
