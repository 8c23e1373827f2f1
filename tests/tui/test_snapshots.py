"""SVG snapshots of the main panels at 80x24 and 132x27 (fixed data, frozen clock, UTC).

Regenerate after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs under __snapshots__/ before committing them.
"""
from __future__ import annotations

import pytest

from .conftest import settle

pytestmark = pytest.mark.tui

SIZES = pytest.mark.parametrize("size", [(80, 24), (132, 27)], ids=["80x24", "132x27"])


async def _ready(pilot) -> None:
    await settle(pilot)


@SIZES
def test_wrkflenv(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_ready)


@SIZES
def test_editor_with_an_error(snap_compare, make_app, size):
    async def change_system_name(pilot):
        await settle(pilot)
        await pilot.press("2", "enter")                      # 2=Change on NIGHTLY, the first line
        await settle(pilot)
        field = pilot.app.screen.fields["clone_identity.system_name"]
        field.value = "CLONE-01"
        await pilot.press("enter")
        await settle(pilot)
    assert snap_compare(make_app(), terminal_size=size, run_before=change_system_name)


@SIZES
def test_run_panel(snap_compare, make_app, size):
    assert snap_compare(make_app("WRKFLRUN RUN(4)"), terminal_size=size, run_before=_ready)


@SIZES
def test_fldsphst(snap_compare, make_app, size):
    assert snap_compare(make_app("FLDSPHST"), terminal_size=size, run_before=_ready)


@SIZES
def test_log_viewer(snap_compare, make_app, size):
    assert snap_compare(make_app("DSPFLLOG RUN(1) LOG(*QHST)"), terminal_size=size, run_before=_ready)


# ------------------------------------------------------------------ the small standard panels (80x24)

async def _on_command_line(pilot, text: str) -> None:
    cmd = pilot.app.screen.command_line
    cmd.focus()
    cmd.value = text
    cmd.cursor_position = len(text)
    await pilot.pause()


async def _options(pilot, *typed) -> None:
    """Type each (row key, option) of TYPED in the Opt fields of the list, then press Enter."""
    sub = pilot.app.screen.subfile
    sub.focus()
    for key, opt in typed:
        sub.cursor, sub.col = [r.key for r in sub.rows].index(key), 0
        await pilot.press(*opt)
    await pilot.press("enter")
    await settle(pilot)


def test_prompt(snap_compare, make_app):
    """F4 on a command typed on WRKFLENV's command line: the CL prompt with the values typed so far."""
    async def prompt(pilot):
        await settle(pilot)
        await _on_command_line(pilot, "DSPFLLOG RUN(1)")
        await pilot.press("f4")
        await settle(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=prompt)


def test_prompt_with_an_error(snap_compare, make_app):
    """Enter on the prompt with a value that is not valid: the field in reverse image, the reason below."""
    async def wrong_value(pilot):
        await settle(pilot)
        await _on_command_line(pilot, "DSPFLLOG RUN(ABC)")
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=wrong_value)


def test_confirmation(snap_compare, make_app):
    """4=Delete on two environments: one confirmation panel lists both."""
    async def delete_two(pilot):
        await settle(pilot)
        await _options(pilot, ("TESTCOPY", "4"), ("RCVPNT", "4"))
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=delete_two)


def test_help(snap_compare, make_app):
    """F1 on WRKFLENV: the panel's description, its options and its function keys."""
    async def help_(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=help_)


def test_option_not_valid(snap_compare, make_app):
    """An option the list does not have: its Opt field in reverse image and the message line."""
    async def wrong_option(pilot):
        await settle(pilot)
        await _options(pilot, ("TESTCOPY", "7"))
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=wrong_option)


def test_store_error(snap_compare, make_app):
    """A panel whose store work fails: the error on the message line of an empty panel."""
    assert snap_compare(make_app("WRKFLRUN RUN(99)"), terminal_size=(80, 24), run_before=_ready)
