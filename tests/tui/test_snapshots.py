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

def _then(command: str = "", keys=(), options=()):
    """What to do on WRKFLENV before the picture: put COMMAND on the command line, type each
    (row key, option) of OPTIONS in the list (then Enter), press KEYS; the panels settle after each."""
    async def steps(pilot):
        await settle(pilot)
        if command:
            cmd = pilot.app.screen.command_line
            cmd.focus()
            cmd.value, cmd.cursor_position = command, len(command)
        if options:
            sub = pilot.app.screen.subfile
            sub.focus()
            for key, opt in options:
                sub.cursor, sub.col = [r.key for r in sub.rows].index(key), 0
                await pilot.press(*opt)
            await pilot.press("enter")
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
    return steps


def test_prompt(snap_compare, make_app):
    """F4 on a command typed on WRKFLENV's command line: the CL prompt with the values typed so far."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then("DSPFLLOG RUN(1)", ["f4"]))


def test_prompt_with_an_error(snap_compare, make_app):
    """Enter on the prompt with a value that is not valid: the field in reverse image, the reason below."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then("DSPFLLOG RUN(ABC)", ["f4", "enter"]))


def test_confirmation(snap_compare, make_app):
    """4=Delete on two environments: one confirmation panel lists both."""
    run_before = _then(options=[("TESTCOPY", "4"), ("RCVPNT", "4")])
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare, make_app):
    """F1 on WRKFLENV: the panel's description, its options and its function keys."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then(keys=["f1"]))


def test_option_not_valid(snap_compare, make_app):
    """An option the list does not have: its Opt field in reverse image and the message line."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then(options=[("TESTCOPY", "7")]))


def test_store_error(snap_compare, make_app):
    """A panel whose store work fails: the error on the message line of an empty panel."""
    assert snap_compare(make_app("WRKFLRUN RUN(99)"), terminal_size=(80, 24), run_before=_ready)
