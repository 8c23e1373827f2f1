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
