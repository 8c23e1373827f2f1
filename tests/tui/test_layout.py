"""screens.layout without a terminal: the CUA lines the widgets draw, as plain strings."""
from __future__ import annotations

import pytest

from screens.layout import (BOTTOM, TOP, Column, Row, confirm_lines, fit_columns, heading_line, legend_pages,
                            more_text, page_of, state_style, title_line)

pytestmark = pytest.mark.tui


def test_title_line_centres_the_title_and_right_aligns_the_system_name():
    line = title_line("Work with Environments", "FLASH4I", 80)
    assert line.endswith("FLASH4I") and len(line) == 79           # the last column stays blank
    assert line.startswith(" " * 29 + "Work with Environments ")   # centred in columns 1-79, as on WRKFLENV


def test_more_text_and_the_legend_pages():
    assert more_text(True, 80) == " " * 72 + "More..." and more_text(False, 80).endswith("Bottom")
    assert more_text(None, 80).strip() == ""
    items = [f"F{n}=Function {n}" for n in range(1, 25)]
    pages = legend_pages(items, 80, 2, "F24=More keys")
    assert len(pages) > 1 and all(len(p) <= 2 and p[-1].endswith("F24=More keys") for p in pages)
    shown = [i.strip() for p in pages for line in p for i in line.split("   ") if "More" not in i]
    assert shown == items                                      # each key once, in order, over the pages
    assert legend_pages(["F3=Exit", "F12=Cancel"], 80, 2, "F24=More keys") == [[" F3=Exit   F12=Cancel"]]


def test_columns_fit_the_width_and_the_rest_of_line_column_takes_the_rest():
    cols = [Column("a", "A", 10), Column("b", "B", 10, view=1), Column("c", "C", 10, view=2), Column("t", "Text", 0)]
    wide = fit_columns(cols, 132, 1)
    assert [c.key for c in wide] == ["a", "b", "c", "t"] and wide[-1].width == 132 - 6 - 33 - 1
    narrow = fit_columns(cols, 40, 1)
    assert [c.key for c in narrow] == ["a", "b", "t"]
    assert heading_line(narrow, 40).startswith(" Opt  A          B")


def test_confirm_lines_and_pages_of_a_short_list():
    rows = [Row(k, {"name": k}) for k in ("ONE", "TWO", "THREE")]
    lines = confirm_lines("4=Delete", [Column("name", "Environment", 11)], rows[:2])
    assert lines[0] == " Press Enter to confirm your choices for 4=Delete." and lines[-1] == "  4   TWO"
    assert [r.key for r in page_of(rows, TOP, 2).rows] == ["ONE", "TWO"] and page_of(rows, TOP, 2).more_after
    assert [r.key for r in page_of(rows, BOTTOM, 2).rows] == ["TWO", "THREE"]
    assert state_style("FAILED") == {"state": "alert"} and state_style("SUCCEEDED") == {}
