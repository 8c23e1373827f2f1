"""CUA geometry of the 5250 panels, in plain Python: columns, pages, legends, heading lines.

Every panel is laid out as IBM i draws a list panel (80x24; 132x27 moves the bottom block
down and shows more rows):

    1      title centred, system name right-aligned
    2-4    header (date/time right on line 2 for live panels; `Field . . :` lines)
    5      Type options, press Enter.            (list panels)
    6-7    option legend (F23 shows more when it does not fit)
    8-9    group heading, column headings (Opt first)
    10-18  subfile rows
    19     More... / Bottom, right-aligned
    20-21  Parameters or command / ===>
    22-23  function-key legend (F24 shows more)
    24     message line

This module draws nothing and imports no Textual (tests/test_architecture.py checks it): the
widgets (`screens.widgets`) and panels (`screens.panel`) lay their text out with it, and it
can be tested without a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

Anchor = Tuple[str, Any]  # ("top"|"bottom"|"after"|"before"|"from", key)
TOP: Anchor = ("top", None)
BOTTOM: Anchor = ("bottom", None)

LIST_INDENT = 6          # " __   ": the Opt field and its blanks before the first column

STATE_STYLES = {"FAILED": "alert", "RUNNING": "bright", "QUEUED": "warn", "CANCELLED": "warn"}


# ------------------------------------------------------------------ values

@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    width: int                       # 0: takes the rest of the line
    view: int = 0                    # 0 always; 1 normal view; 2 the F11 alternate view
    align: str = "left"
    min_width: int = 12              # a rest-of-line column needs at least this much to show all columns


@dataclass
class Row:
    key: Hashable
    cells: Dict[str, str]
    styles: Dict[str, str] = field(default_factory=dict)   # column key -> alert | bright | warn
    order: Any = None                # display order of the key across pages (options run top-down)


@dataclass
class Page:
    rows: List[Row]
    more_after: bool


def state_style(state: Optional[str]) -> Dict[str, str]:
    """The style of a run state in a list's `state` column (failed red, running white, waiting yellow)."""
    return {"state": STATE_STYLES[state]} if state in STATE_STYLES else {}


# ------------------------------------------------------------------ lines

def title_line(title: str, system_name: str, width: int) -> str:
    """Line 1: TITLE centred, SYSTEM_NAME right-aligned, the last column left blank."""
    line = list(title.center(width - 1).ljust(width))
    name = system_name[:max(0, width - 2)]
    line[width - 1 - len(name):width - 1] = list(name)
    return "".join(line).rstrip()


def more_text(more: Optional[bool], width: int) -> str:
    """More... / Bottom right-aligned on the line under a list; None shows nothing."""
    text = "" if more is None else ("More..." if more else "Bottom")
    return text.rjust(width - 1)


def fit_columns(columns: Sequence[Column], width: int, view: int) -> List[Column]:
    """The columns shown at WIDTH: all of them when they fit, else view 0 plus the chosen view."""
    room = width - LIST_INDENT
    def need(cols: Sequence[Column]) -> int:
        return sum((c.width or c.min_width) + 1 for c in cols)
    chosen = list(columns) if need(columns) <= room else [c for c in columns if c.view in (0, view)]
    fixed = sum(c.width + 1 for c in chosen if c.width)
    flex = max(8, room - fixed - 1)
    return [c if c.width else Column(c.key, c.heading, flex, c.view, c.align, c.min_width) for c in chosen]


def has_alternate_view(columns: Sequence[Column], width: int) -> bool:
    room = width - LIST_INDENT
    return any(c.view for c in columns) and sum((c.width or c.min_width) + 1 for c in columns) > room


def format_cells(cols: Sequence[Column], cells: Dict[str, str]) -> List[Tuple[str, str]]:
    """(column key, text padded to the column) for each column."""
    out = []
    for c in cols:
        value = str(cells.get(c.key, "") or "")[:c.width]
        out.append((c.key, value.rjust(c.width) if c.align == "right" else value.ljust(c.width)))
    return out


def heading_line(cols: Sequence[Column], width: int) -> str:
    text = " Opt  " + " ".join(v for _, v in format_cells(cols, {c.key: c.heading for c in cols}))
    return text[:width].rstrip()


def heading_above(columns: Sequence[Column], words: Dict[str, str]) -> str:
    """The first line of two-line column headings (`Consistency` over `group`)."""
    return (" " * LIST_INDENT + " ".join(text for _, text in format_cells(columns, words))).rstrip()


def confirm_lines(option: str, columns: Sequence[Column], rows: Sequence[Row], width: int = 80) -> List[str]:
    """The body of a `Confirm ...` panel: what Enter and F12 do, then the chosen rows under OPTION."""
    number = option.split("=")[0]
    lines = [f" Press Enter to confirm your choices for {option}.",
             " Press F12=Cancel to return to change your choices.", "",
             heading_line(columns, width)]
    lines += [f"  {number:<2}  " + " ".join(t for _, t in format_cells(columns, row.cells)).rstrip() for row in rows]
    return lines


def legend_pages(items: Sequence[str], width: int, max_lines: int, more: str, indent: int = 1) -> List[List[str]]:
    """Flow `F3=Exit`-style items three blanks apart over MAX_LINES lines; when they do not
    fit, split them into pages that each end with MORE (F24=More keys / F23 for options)."""
    def flow(its: Sequence[str]) -> Optional[List[str]]:
        lines: List[str] = []
        line = ""
        for item in its:
            candidate = item if not line else line + "   " + item
            if indent + len(candidate) <= width - 1:
                line = candidate
            else:
                lines.append(line)
                line = item
        lines.append(line)
        return [" " * indent + x for x in lines] if len(lines) <= max_lines else None
    if not items:
        return [[]]
    whole = flow(items)
    if whole is not None:
        return [whole]
    pages, rest = [], list(items)
    while rest:
        take = len(rest)
        while take > 1 and flow(rest[:take] + [more]) is None:
            take -= 1
        pages.append(flow(rest[:take] + [more]) or [" " * indent + more])
        rest = rest[take:]
    return pages


# ------------------------------------------------------------------ pages

def page_of(rows: Sequence[Row], anchor: Anchor, limit: int) -> Page:
    """Paging of a short list already in memory (definitions, steps of a run, command names)."""
    keys = [r.key for r in rows]
    kind, key = anchor
    start = 0
    if kind == "bottom":
        start = max(0, len(rows) - limit)
    elif kind in ("after", "from") and key in keys:
        start = keys.index(key) + (1 if kind == "after" else 0)
    elif kind == "before" and key in keys:
        if keys.index(key) == 0:
            return Page([], True)
        start = max(0, keys.index(key) - limit)
    return Page(list(rows[start:start + limit]), start + limit < len(rows))


def keyset_page(fetch: Callable[[str, Any, int], List[Row]], anchor: Anchor, limit: int) -> Page:
    """A page through FETCH(direction, key, n), which returns rows in display order:
    'after' (the first n after KEY, or from the start), 'from' (at or after KEY) and
    'before' (the last n before KEY, or up to the end). One extra row tells More/Bottom."""
    kind, key = anchor
    if kind in ("top", "after", "from"):
        rows = fetch("from" if kind == "from" else "after", key, limit + 1)
        return Page(rows[:limit], len(rows) > limit)
    rows = fetch("before", key if kind == "before" else None, limit)
    if kind == "before" and rows and len(rows) < limit:
        return keyset_page(fetch, TOP, limit)      # near the top: show a full first page
    return Page(rows, kind == "before")            # before KEY: KEY itself follows
