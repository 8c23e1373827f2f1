"""WRKFLRCVP on the lab: the generations of RCVPNT after two runs, 5=Display, 9=Boot behind its
confirmation (Enter boots, F12 changes nothing), a refused boot onto a running clone, and an
environment that keeps no generations. The boot is judged by the lab's own state."""
from __future__ import annotations

import pytest

from ..engine.conftest import gen_lab, lpar, run_now  # noqa: F401  (gen_lab is a fixture)
from .conftest import screen_lines, settle, until
from .test_panels import command, message, option

pytestmark = pytest.mark.tui


def _text(app) -> str:
    return "\n".join(screen_lines(app))


@pytest.mark.lab
async def test_recovery_points_panel_boots_a_generation_on_the_lab(gen_lab, tmp_path):
    from screens.app import Flash4iApp
    from screens.panel import DisplayPanel
    from screens.wrkflrcvp import ConfirmBootPanel, WrkFlRcvpPanel

    lab = gen_lab
    array = lab.world.arrays["FS9500"]
    clone_disks = [f"RCV_00{i}" for i in range(1, 5)]
    runs = [run_now("RCVPNT"), run_now("RCVPNT")]
    assert [r.state for r in runs] == ["SUCCEEDED"] * 2, [r.message for r in runs]
    before = [array.volume(v).content for v in clone_disks]

    app = Flash4iApp(f"sqlite:///{tmp_path / 'store.db'}", None, system_name="FLASHLAB",
                     keymap_file=tmp_path / "none.yaml", ensure_worker=lambda url: None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "WRKFLRCVP ENV(RCVPNT)")          # from WRKFLENV's command line
        assert isinstance(app.screen, WrkFlRcvpPanel), _text(app)
        lines = screen_lines(app)
        assert "Work with Flash Recovery Points" in lines[0]
        assert "CLONE3" in _text(app) and "P10-PROD" in _text(app)
        assert "5=Display" in lines[5] and "9=Boot" in lines[5]
        assert lines[7].split() == ["Consistency", "Space"]
        assert lines[8].split() == ["Opt", "Gen", "group", "Taken", "Run", "State", "used", "Proven"]
        rows = [line.split() for line in lines[9:13]]
        assert [r[:2] for r in rows] == [[str(k), f"FL_RCVPNT_G{k}"] for k in range(1, 5)]
        assert [line.split()[4] for line in lines[9:11]] == [str(r.id) for r in runs]   # the run that took it
        assert all("never used" in line for line in lines[11:13])

        # 5=Display: the generation with its targets
        await option(pilot, 1, "5")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DisplayPanel) and "Display Recovery Point" in screen_lines(app)[0]
        shown = _text(app)
        assert "FL_RCVPNT_G1" in shown and all(f"RG1_00{i}" in shown for i in range(1, 5)), shown
        await pilot.press("f12")
        await settle(pilot)

        # 9 on a generation never taken: refused before any confirmation
        await option(pilot, 3, "9")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WrkFlRcvpPanel)
        assert "Generation 3 of RCVPNT holds no recovery point" in message(app)

        # 9 then F12 on the confirmation: nothing changes on the lab
        await option(pilot, 2, "9")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmBootPanel), _text(app)
        confirm = _text(app)
        for text in ("Confirm Boot of Recovery Point", "RCVPNT", "Generation 2", "CLONE3", "P10-PROD",
                     "overwritten", "manual mode", runs[1].started_at.strftime("%m/%d/%y")):
            assert text in confirm, (text, confirm)
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, WrkFlRcvpPanel)
        assert lpar(lab, "CLONE3").state == "Not Activated"
        assert [array.volume(v).content for v in clone_disks] == before

        # 9 then Enter: generation 2 is copied onto the clone's disks, the clone waits at its console
        await option(pilot, 2, "9")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, WrkFlRcvpPanel) and "Booting generation 2" in message(app)
        await pilot.press("f5")                                 # the panel answers while the boot runs
        await until(pilot, lambda: isinstance(app.screen, DisplayPanel), "the boot's result panel",
                    timeout=60)   # the boot is a process of its own: seconds, not rounds
        result = _text(app)
        assert "Recovery Point Booted" in screen_lines(app)[0], result
        assert "CHGNETA SYSNAME(RCVPNT)" in result and "manual IPL" in result, result
        clone = lpar(lab, "CLONE3")
        assert (clone.state, clone.keylock) == ("Running", "manual")
        assert [array.volume(v).content for v in clone_disks] != before
        assert not lab.world.conflicts
        await pilot.press("f12")
        await settle(pilot)

        # the clone runs now: a second boot is refused by the engine, its reason on the message line
        await option(pilot, 1, "9")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: "is Running" in message(app), "the refusal of a second boot", timeout=60)
        assert isinstance(app.screen, WrkFlRcvpPanel)
        assert "clone partition CLONE3" in message(app) and "in use" in message(app), message(app)
        assert lpar(lab, "CLONE3").state == "Running" and not lab.world.conflicts


async def test_an_environment_without_generations_gives_a_message(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "WRKFLRCVP ENV(NIGHTLY)")
        assert type(app.screen).__name__ == "WrkFlEnvPanel"
        assert "Environment NIGHTLY keeps no recovery points in generations" in message(app)
        await command(pilot, "WRKFLRCVP NOSUCH")
        assert type(app.screen).__name__ == "WrkFlEnvPanel" and "not found" in message(app)


async def test_started_on_an_environment_without_generations(make_app):
    app = make_app("WRKFLRCVP ENV(RCVPNT)")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "(No recovery points)" in _text(app)
        assert "Environment RCVPNT keeps no recovery points in generations" in message(app)


# ------------------------------------------------------------------ WRKFLENV option 13

async def test_wrkflenv_option_13_opens_the_recovery_points(make_app):
    from screens.wrkflenv import WrkFlEnvPanel
    from screens.wrkflrcvp import WrkFlRcvpPanel
    _keep_generations()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "13=Work with recovery points" in screen_lines(app)[6]      # the option legend, line 7
        await option(pilot, "RCVPNT", "13")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WrkFlRcvpPanel) and app.screen.env == "RCVPNT", _text(app)
        assert [r.key for r in app.screen.subfile.rows] == [1, 2, 3, 4]
        assert "RCVPNT" in screen_lines(app)[2] and "CLONE3" in screen_lines(app)[3]
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, WrkFlEnvPanel) and message(app) == ""


async def test_wrkflenv_option_13_on_one_generation_gives_the_reason(make_app):
    """An environment that keeps one generation has no list of recovery points to show: the option
    says why, as WRKFLRCVP does, and the options typed after it are not processed."""
    from screens.wrkflenv import WrkFlEnvPanel
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "NIGHTLY", "13")
        await option(pilot, "TESTCOPY", "5")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WrkFlEnvPanel), _text(app)
        assert "Environment NIGHTLY keeps no recovery points in generations" in message(app)
        assert app.screen.subfile.typed() == []


# ------------------------------------------------------------------ a snapshot on fixed data

def _keep_generations() -> None:
    """The panels' sample store, with RCVPNT keeping 4 generations: 1 taken by run 3, 2 being taken."""
    from datetime import datetime

    from flash4i_tui.store import models as m
    from flash4i_tui.store import queries
    from flash4i_tui.store.db import write_transaction
    env = queries.environment("RCVPNT")
    targets = [[f"RG{k}_00{i}" for k in range(1, 5)] for i in range(1, 5)]
    run = m.Run.get((m.Run.env_name == "RCVPNT"))
    with write_transaction():
        m.Environment.update(options=dict(env.options or {}, generations=4, generation_targets=targets)) \
            .where(m.Environment.id == env.id).execute()
        m.RecoveryPoint.create(environment=env, generation=1, run=run, taken_at=datetime(2025, 6, 1, 7, 1, 30),
                               state="idle_or_copied", space_used_bytes=512 * 1024 ** 2, proven=True)
        m.RecoveryPoint.create(environment=env, generation=2, run=None, taken_at=None, state="taking")


def test_wrkflrcvp_snapshot(snap_compare, make_app):
    async def ready(pilot):
        await settle(pilot)
    _keep_generations()
    assert snap_compare(make_app("WRKFLRCVP ENV(RCVPNT)"), terminal_size=(80, 24), run_before=ready)
