"""The panels driven with Pilot: every panel, every option, the command line, the keys."""
from __future__ import annotations

import sys
from datetime import timedelta

import pytest

from flash4i_tui.store import models as m
from flash4i_tui.store import queries
from screens.command import CommandError, build, parse, COMMANDS

from .conftest import FIND_SEQ, NOW, Watch, line_of, repo_path, screen_lines, settle

pytestmark = pytest.mark.tui


# ------------------------------------------------------------------ helpers

async def type_text(pilot, text: str) -> None:
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])


async def option(pilot, key, opt: str) -> None:
    """Type OPT in the Opt field of the row KEY (the cursor is put there; the arrow keys are tested apart)."""
    sub = pilot.app.screen.subfile
    sub.focus()
    sub.cursor, sub.col = [r.key for r in sub.rows].index(key), 0
    await type_text(pilot, opt)


async def command(pilot, text: str) -> None:
    """Put TEXT on the command line and press Enter (typing key by key is tested once, below)."""
    cmd = pilot.app.screen.command_line
    cmd.focus()
    cmd.value = text
    await pilot.press("enter")
    await settle(pilot)


async def set_field(pilot, field, text: str) -> None:
    field.focus()
    field.value = text
    await pilot.pause()


def panel_name(app) -> str:
    return type(app.screen).__name__


def message(app) -> str:
    return screen_lines(app)[-1].strip()


# ------------------------------------------------------------------ WRKFLENV

async def test_wrkflenv_layout_and_rows(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert lines[0].strip().startswith("Work with Environments") and lines[0].rstrip().endswith("FLASH4I")
        assert lines[1].rstrip().endswith("06/02/25  00:20:00")
        assert lines[4].startswith(" Type options, press Enter.")
        assert "1=Start" in lines[5] and "12=History" in lines[5] + lines[6]
        assert lines[8].startswith(" Opt  Environment")
        assert lines[18].rstrip().endswith("Bottom")
        assert lines[19].startswith(" Parameters or command") and lines[20].startswith(" ===>")
        assert lines[21].startswith(" F3=Exit") and "F6=Create" in lines[21]
        nightly = next(line for line in lines if "NIGHTLY" in line)
        assert "*BRMS" in nightly and "CLONE1" in nightly and "06/03/25 00:00" in nightly and "RUNNING" in nightly
        assert "FAILED" in next(line for line in lines if "TESTCOPY" in line)
        assert app.screen.subfile.has_focus                     # the cursor starts in the first Opt field


async def test_create_environment_with_f6(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert panel_name(app) == "EnvEditPanel" and "Create Environment" in screen_lines(app)[0]
        ed = app.screen
        await type_text(pilot, "newenv")                       # the cursor starts in the first field
        for path, value in (("source", "PROD"), ("clone", "CLONE3"), ("storage", "FS9500"),
                            ("consistency_group", "FL_NEW"), ("clone_identity.system_name", "NEWSYS")):
            await set_field(pilot, ed.fields[path], value)
        pair = ed.group_rows("volumes")[0].fields()
        await set_field(pilot, pair["source"], "PROD_001")
        await set_field(pilot, pair["target"], "NEW_001")
        await settle(pilot)
        assert len(ed.group_rows("volumes")) == 2                # typing on the last line adds one
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel"
        assert message(app) == "Environment NEWENV created."
        assert any("NEWENV" in line for line in screen_lines(app))
        env = queries.environment("NEWENV")
        assert env.clone.name == "CLONE3" and env.clone_system_name == "NEWSYS"
        assert [(p.source, p.target) for p in env.volume_pairs] == [("PROD_001", "NEW_001")]


async def test_change_shows_errors_in_reverse_and_saves_only_when_valid(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "NIGHTLY", "2")
        await pilot.press("enter")
        await settle(pilot)
        ed = app.screen
        assert "Change Environment" in screen_lines(app)[0]
        name_field = ed.fields["clone_identity.system_name"]
        await set_field(pilot, name_field, "CLONE-01")
        await set_field(pilot, ed.fields["quiesce.timeout"], "0")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "EnvEditPanel"                 # still on the editor
        assert name_field.has_class("-error") and ed.fields["quiesce.timeout"].has_class("-error")
        assert not ed.fields["consistency_group"].has_class("-error")
        assert "not a valid IBM i system name" in message(app) or "out of range" in message(app)
        assert app.focused in (name_field, ed.fields["quiesce.timeout"])
        assert queries.environment("NIGHTLY").clone_system_name == "CLONE1"   # nothing saved
        await set_field(pilot, name_field, "CLONE9")
        await set_field(pilot, ed.fields["quiesce.timeout"], "90")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel"
        assert message(app) == "Environment NIGHTLY changed."
        env = queries.environment("NIGHTLY")
        assert env.clone_system_name == "CLONE9" and env.quiesce_timeout == 90
        assert env.brms["control_groups"] == ["DAILY", "IFSBKU"]      # untouched fields kept


async def test_change_field_error_message_follows_the_cursor(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "TESTCOPY", "2")
        await pilot.press("enter")
        await settle(pilot)
        ed = app.screen
        target = ed.group_rows("volumes")[1].fields()["target"]
        await set_field(pilot, target, "CLN2_001")               # the same target twice
        await set_field(pilot, ed.fields["clone_identity.hold_job_schedules"], "MAYBE")
        await pilot.press("enter")
        await settle(pilot)
        assert ed.fields["clone_identity.hold_job_schedules"].has_class("-error")
        assert message(app) == "Type *YES or *NO."
        await set_field(pilot, ed.fields["clone_identity.hold_job_schedules"], "*no")
        await pilot.press("enter")
        await settle(pilot)
        assert target.has_class("-error") and "listed twice as a target" in message(app)
        assert panel_name(app) == "EnvEditPanel"
        await pilot.press("f12")                                  # cancel: nothing saved
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel"
        assert [p.target for p in queries.environment("TESTCOPY").volume_pairs][1] == "CLN2_002"


async def test_copy_environment(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "TESTCOPY", "3")
        await pilot.press("enter")
        await settle(pilot)
        ed = app.screen
        assert "Copy Environment" in screen_lines(app)[0] and ed.fields["name"].value == ""
        await set_field(pilot, ed.fields["name"], "NIGHTLY")     # an existing name is refused
        await pilot.press("enter")
        await settle(pilot)
        assert ed.fields["name"].has_class("-error") and "duplicate name" in message(app)
        await set_field(pilot, ed.fields["name"], "TESTCOPY2")
        await pilot.press("enter")
        await settle(pilot)
        assert message(app) == "Environment TESTCOPY2 created."
        copy_ = queries.environment("TESTCOPY2")
        assert copy_.user_commands["commands"][0] == "CLRPFM FILE(APPDTA/CUSTEMAIL)"
        assert copy_.attach == queries.environment("TESTCOPY").attach and copy_.attach["vios"] == "VIOS1"
        assert copy_.volume_pairs.count() == 4


async def test_delete_with_confirmation_and_f12_keeps_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "RCVPNT", "4")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Confirm Delete of Environments" in lines[0]
        assert any("RCVPNT" in line and line.lstrip().startswith("4") for line in lines)
        await pilot.press("f12")
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel" and queries.environment("RCVPNT")
        await option(pilot, "RCVPNT", "4")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")                                # confirm
        await settle(pilot)
        assert message(app) == "Environment RCVPNT deleted."
        assert not any("RCVPNT" in line for line in screen_lines(app)[9:18])
        assert m.Environment.get_or_none(m.Environment.name == "RCVPNT") is None
        kept = m.Run.get(m.Run.env_name == "RCVPNT")               # its history stays readable
        assert kept.environment_id is None


async def test_delete_refuses_an_environment_with_an_active_run(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "NIGHTLY", "4")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert message(app) == "Environment NIGHTLY not deleted: run 4 is RUNNING."
        assert queries.environment("NIGHTLY")


async def test_display_environment(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "NIGHTLY", "5")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Display Environment" in lines[0]
        assert any(line.startswith(" Consistency group . .") and "FL_NIGHTLY" in line for line in lines)
        assert lines[20].rstrip().endswith("More...")
        await pilot.press("pagedown")
        await settle(pilot)
        assert any("System name" in line and "CLONE1" in line for line in screen_lines(app))
        await pilot.press("enter")                                # Enter leaves a display panel
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel"


async def test_options_run_top_down_and_f3_ends_them(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "TESTCOPY", "5")
        await option(pilot, "NIGHTLY", "12")
        await option(pilot, "RCVPNT", "5")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "FlDspHstPanel" and app.screen.env == "NIGHTLY"
        await pilot.press("f12")
        await settle(pilot)
        assert "Display Environment" in screen_lines(app)[0]
        assert any("RCVPNT" in line for line in screen_lines(app))
        await pilot.press("f3")                                   # F3 ends the remaining options
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel" and app.screen.subfile.typed() == []


async def test_invalid_option_is_shown_in_reverse(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "SUNDAY21", "9")
        await pilot.press("enter")
        await settle(pilot)
        assert message(app) == "Option 9 not valid."
        assert app.screen.subfile.errors == {"SUNDAY21"} and panel_name(app) == "WrkFlEnvPanel"


async def test_option_8_and_12(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "NIGHTLY", "8")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Work with Flash Run" in lines[0]
        assert any("FUNCTION" in line and "RUNNING" in line and "|####      |  42%" in line for line in lines)
        assert any(line.startswith(" Run . . . . . :  4") for line in lines)
        await pilot.press("f12")
        await settle(pilot)
        await option(pilot, "NIGHTLY", "12")
        await pilot.press("enter")
        await settle(pilot)
        rows = [r.key for r in app.screen.subfile.rows]
        assert rows == [4, 1]                                     # NIGHTLY's runs only, newest first


async def test_option_1_queues_a_run_and_a_second_start_is_refused(make_app, worker_hook, tui_url):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "TESTCOPY", "1")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "RunPanel"
        run = m.Run.select().where(m.Run.env_name == "TESTCOPY").order_by(m.Run.id.desc()).get()
        assert run.state == "QUEUED" and app.screen.run_id == run.id
        assert worker_hook.calls == [tui_url]
        assert message(app) == f"Run {run.id} of TESTCOPY queued."
        assert any("(No steps yet" in line for line in screen_lines(app))
        await pilot.press("f12")
        await settle(pilot)
        await option(pilot, "TESTCOPY", "1")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "WrkFlEnvPanel"
        assert message(app).startswith(f"run of TESTCOPY refused: clone partition HMC1/P10-PROD/6 is in use by run "
                                       f"{run.id}")
        assert m.Run.select().where(m.Run.env_name == "TESTCOPY").count() == 2
        assert len(worker_hook.calls) == 1


async def test_start_without_a_worker_module_says_so(make_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "flash4i_tui.engine.launch", None)     # the import fails
    app = make_app(ensure_worker=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "STRFLENV ENV(RCVPNT)")
        assert panel_name(app) == "RunPanel"
        assert "Run queued, but no worker could be started" in message(app)


# ------------------------------------------------------------------ run panel

def _progress(view, seq: int) -> str:
    return next(r.cells["progress"] for r in view.rows if r.key == seq).split("|")[-1].strip()


def _status(view, seq: int) -> str:
    return next(r.cells["status"] for r in view.rows if r.key == seq)


async def test_run_panel_follows_the_run_and_keeps_the_cursor(make_app, monkeypatch):
    from screens.runpanel import RunPanel
    monkeypatch.setattr(RunPanel, "POLL_SECONDS", 0.05)
    app = make_app("WRKFLRUN ENV(NIGHTLY)")
    watch = Watch()
    async with app.run_test(size=(80, 24), message_hook=watch) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert any("FUNCTION" in line and "RUNNING" in line and "|####      |  42%" in line for line in lines)
        await pilot.press("pageup", "down", "down")
        await settle(pilot)
        assert app.screen.subfile.current_key() == 3
        m.Step.update(progress=80.0).where((m.Step.run == 4) & (m.Step.seq == 9)).execute()
        m.Step.update(status="RUNNING", started_at=NOW).where((m.Step.run == 4) & (m.Step.seq == 10)).execute()
        await watch.work_done(pilot, "RunPanel:poll", lambda view: _progress(view, 9) == "80%"
                              and _status(view, 10) == "RUNNING")   # a poll that read the change
        assert app.screen.subfile.current_key() == 3              # the poller did not move the cursor
        await pilot.press("pagedown")
        await settle(pilot)
        lines = screen_lines(app)
        assert any("FUNCTION" in line and "80%" in line for line in lines)
        assert any("COLLECT_LOGS" in line and "RUNNING" in line for line in lines)
        assert lines[18].rstrip().endswith("Bottom")
        m.Run.update(state="SUCCEEDED").where(m.Run.id == 4).execute()
        await watch.work_done(pilot, "RunPanel:poll", lambda view: view.state == "SUCCEEDED")
        assert any("SUCCEEDED" in line for line in screen_lines(app))
        assert app.screen._timer is None                          # a finished run is not polled


async def test_run_panel_step_detail_logs_and_end(make_app):
    app = make_app("WRKFLRUN RUN(4)")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert [r.key for r in app.screen.subfile.rows] == [9, 10, 11]   # the page of the running step
        await option(pilot, 9, "5")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Display Step Details" in lines[0]
        assert any("FUNCTION" in line for line in lines) and any("function detail line 1" in x for x in lines)
        await pilot.press("f12")
        await settle(pilot)
        await pilot.press("f10")                                  # the product's own log of the run
        await settle(pilot)
        assert "Display flash4i Log" in screen_lines(app)[0] and app.screen.kind == "INTERNAL"
        await pilot.press("f12")
        await settle(pilot)
        await pilot.press("shift+f4")                             # F16 = End run
        await settle(pilot)
        assert "Confirm End of Run" in screen_lines(app)[0]
        await pilot.press("enter")
        await settle(pilot)
        assert message(app) == "End of run 4 requested; it stops at the next safe point."
        assert m.Run.get_by_id(4).cancel_requested is True


# ------------------------------------------------------------------ history

def _more_runs(count: int) -> None:
    env = queries.environment("RCVPNT")
    base = NOW - timedelta(days=30)
    m.Run.insert_many([dict(environment=env, env_name="RCVPNT", function="*NONE", state="SUCCEEDED",
                            requested_at=base + timedelta(hours=i), started_at=base + timedelta(hours=i),
                            duration=60.0 + i, suspended_seconds=0.5, snapshot={})
                       for i in range(count)]).execute()


async def test_history_pages_through_the_store(make_app, monkeypatch):
    _more_runs(25)                                               # ids 5..29
    limits = []
    real = queries.runs_page

    def spy(*args, **kw):
        limits.append(kw.get("limit"))
        return real(*args, **kw)
    monkeypatch.setattr(queries, "runs_page", spy)
    app = make_app("FLDSPHST")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        sub = app.screen.subfile
        page = len(sub.rows)
        assert page == 9 and [r.key for r in sub.rows][:2] == [29, 28]
        assert screen_lines(app)[18].rstrip().endswith("More...")
        await pilot.press("pagedown")
        await settle(pilot)
        assert [r.key for r in sub.rows][0] == 20
        await pilot.press("shift+f6")                             # F18 = Bottom
        await settle(pilot)
        assert [r.key for r in sub.rows][-1] == 1 and screen_lines(app)[18].rstrip().endswith("Bottom")
        await pilot.press("pagedown")
        await settle(pilot)
        assert message(app) == "You have reached the bottom of the list."
        await pilot.press("pageup")
        await settle(pilot)
        assert [r.key for r in sub.rows][-1] == 10
        await pilot.press("f17")
        await settle(pilot)
        assert [r.key for r in sub.rows][0] == 29
        assert limits and max(limits) <= page + 1                 # never more than a page (+1 for More...)


async def test_history_option_5_shows_the_step_durations(make_app):
    app = make_app("FLDSPHST ENV(NIGHTLY)")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert any("Environment" in line and "NIGHTLY" in line for line in lines[:4])
        run1 = next(line for line in lines if line.strip().startswith("1 NIGHTLY"))
        assert "0:38:54" in run1 and "1.84s" in run1 and "12.3 GiB" in run1 and "SUCCEEDED" in run1
        await option(pilot, 1, "5")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert any("START_CLONE" in line and "0:06:52" in line for line in lines)
        assert any("QUIESCE" in line and "0.90s" in line for line in lines)


async def test_history_of_an_unknown_environment(make_app):
    app = make_app("FLDSPHST ENV(NOSUCH)")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert message(app) == "Environment NOSUCH not found."


# ------------------------------------------------------------------ log viewer

async def test_log_viewer_pages_and_finds(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "DSPFLLOG RUN(1) LOG(*QHST)")
        panel = app.screen
        assert "Display History Log Contents" in screen_lines(app)[0]
        assert [r.key for r in panel.subfile.rows][0] == 1
        await pilot.press("pagedown")
        await settle(pilot)
        assert [r.key for r in panel.subfile.rows][0] == 10
        await pilot.press("f18")
        await settle(pilot)
        assert [r.key for r in panel.subfile.rows][-1] == 60 and screen_lines(app)[18].rstrip().endswith("Bottom")
        await pilot.press("f17")
        await settle(pilot)
        panel.find_field.focus()
        await pilot.pause()
        await type_text(pilot, "cpi2417")                         # Find is not case-sensitive
        await pilot.press("enter")
        await settle(pilot)
        assert [r.key for r in panel.subfile.rows][0] == FIND_SEQ
        assert panel.subfile.current_key() == FIND_SEQ and panel.subfile.found == FIND_SEQ
        assert line_of(app, "has been wrapped") == 10                # the first line of the list
        await pilot.press("f16")                                  # find next: there is none
        await settle(pilot)
        assert message(app) == "'cpi2417' not found."
        await option(pilot, FIND_SEQ, "5")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Display Message Details" in lines[0] and any("CPI2417" in line for line in lines)


async def test_history_options_open_the_logs(make_app):
    app = make_app("FLDSPHST")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, 1, "8")
        await pilot.press("enter")
        await settle(pilot)
        assert "Display Job Log" in screen_lines(app)[0]
        assert any("CPF3741" in line for line in screen_lines(app))
        await pilot.press("f11")                                  # the sender and severity columns
        await settle(pilot)
        assert line_of(app, "Sev From") == 9 and any("STRBKUBRM" in line for line in screen_lines(app))


# ------------------------------------------------------------------ definitions

async def test_definitions_panel(make_app):
    app = make_app("WRKFLDFN")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = [r.key for r in app.screen.subfile.rows]
        assert keys[:2] == [("HMC", "HMC1"), ("STORAGE", "FS9500")] and ("PARTITION", "CLONE1") in keys
        await option(pilot, ("PARTITION", "CLONE1"), "5")
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Display Partition" in lines[0]
        assert any("Clone of environments" in line and "NIGHTLY SUNDAY21" in line for line in lines)


# ------------------------------------------------------------------ command line and keys

async def test_command_line_commands_retrieve_and_errors(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.command_line.focus()
        await type_text(pilot, "fldsphst env(nightly)")
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "FlDspHstPanel" and app.screen.env == "NIGHTLY"
        await command(pilot, "F3")                                 # typed F3: back to where it was typed
        assert panel_name(app) == "WrkFlEnvPanel"
        await command(pilot, "XYZ")
        assert message(app) == "CPD0030 Command XYZ not found."
        assert app.screen.command_line.value == "XYZ"              # left for the operator to correct
        app.screen.command_line.value = ""
        await pilot.press("f9")
        assert app.screen.command_line.value == "XYZ"
        await pilot.press("f9")
        assert app.screen.command_line.value == "fldsphst env(nightly)"
        await command(pilot, "DSPFLLOG RUN(1) LOG(*FOO)")
        assert message(app) == "Value '*FOO' for parameter LOG not valid."
        await command(pilot, "WRKFLRUN RUN(999)")
        assert message(app) == "run 999 not found"
        await pilot.press("f12")
        await settle(pilot)
        await command(pilot, "F3")                                 # on the first panel: the app ends
        assert app.return_code == 0 and not app.is_running


async def test_f4_prompts_the_command(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        cmd = app.screen.command_line
        cmd.focus()
        await type_text(pilot, "DSPFLLOG")
        await pilot.press("f4")
        await settle(pilot)
        assert "Display Flash Run Log (DSPFLLOG)" in screen_lines(app)[0]
        assert any("Log" in line and "*QHST" in line for line in screen_lines(app))
        await pilot.press("enter")
        await settle(pilot)
        assert message(app) == "Parameter RUN required."
        await type_text(pilot, "1")
        await pilot.press("down")
        await pilot.press("f4")                                   # the values of LOG
        await settle(pilot)
        await option(pilot, "*AGENT", "1")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert panel_name(app) == "LogViewPanel" and app.screen.kind == "AGENT"
        assert app.command_history[-1] == "DSPFLLOG RUN(1) LOG(*AGENT)"


async def test_f13_to_f24_answer_to_shift_f1_to_shift_f12(make_app):
    app = make_app("DSPFLLOG RUN(1) LOG(*QHST)")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        sub = app.screen.subfile
        await pilot.press("f18")
        await settle(pilot)
        assert sub.rows[-1].key == 60
        await pilot.press("shift+f5")                             # F17 = Top
        await settle(pilot)
        assert sub.rows[0].key == 1
        await pilot.press("shift+f6")                             # F18 = Bottom
        await settle(pilot)
        assert sub.rows[-1].key == 60
        await pilot.press("f17")
        await settle(pilot)
        assert sub.rows[0].key == 1
        await pilot.press("shift+f12")                            # F24: no more keys here
        await settle(pilot)
        assert message(app) == "Function key not allowed."


async def test_run_panel_says_why_a_clone_is_not_proven(make_app):
    from flash4i_tui.store import models as m, write_transaction
    app = make_app("WRKFLRUN RUN(3)")
    with write_transaction():
        m.Run.update(proven=False, proof={"reasons": ["journal APPDTA/APPJRN of the clone at 90 is before "
                                                       "production's 100 before the suspend"]}).where(
            m.Run.id == 3).execute()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert any("Clone NOT proven: journal APPDTA/APPJRN" in line for line in screen_lines(app))


async def test_f24_pages_the_function_key_legend(make_app):
    app = make_app("WRKFLRUN RUN(1)")
    async with app.run_test(size=(40, 24)) as pilot:             # narrow: the legend needs pages
        await settle(pilot)
        first = screen_lines(app)[21] + screen_lines(app)[22]
        assert "F24=More keys" in first
        await pilot.press("f24")
        await settle(pilot)
        assert screen_lines(app)[21] + screen_lines(app)[22] != first


async def test_user_keymap_rebinds_a_key(make_app, tmp_path):
    keymap = tmp_path / "keymap.yaml"
    keymap.write_text("f3: ctrl+x\nf12: [f12, ctrl+b]\n")
    app = make_app("FLDSPHST", keymap_file=keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "WRKFLDFN")
        await pilot.press("ctrl+b")                                # F12 on another key
        await settle(pilot)
        assert panel_name(app) == "FlDspHstPanel"
        await pilot.press("f3")                                    # F3 moved: f3 does nothing now
        await settle(pilot)
        assert app.is_running and panel_name(app) == "FlDspHstPanel"
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert not app.is_running


async def test_a_bad_keymap_is_reported_not_fatal(make_app, tmp_path):
    keymap = tmp_path / "keymap.yaml"
    keymap.write_text("exit: f3\n")
    app = make_app(keymap_file=keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "keymap.yaml not used: unknown binding id 'exit'" in app.screen.message_text
        assert panel_name(app) == "WrkFlEnvPanel"


async def test_f1_help_and_f11_alternate_view(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)
        heading = screen_lines(app)[8]
        assert "Schedule" in heading and "Source" not in heading
        assert any("0 0 * * *" in line for line in screen_lines(app))
        await pilot.press("f1")
        await settle(pilot)
        lines = screen_lines(app)
        assert "Help: Work with Environments" in lines[0] and any("12=History" in line for line in lines)


async def test_wide_terminal_shows_every_column(make_app):
    app = make_app()
    async with app.run_test(size=(132, 27)) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert "Source" in lines[8] and "Schedule" in lines[8] and "Text" in lines[8]
        assert lines[21].rstrip().endswith("Bottom") and lines[22].startswith(" Parameters or command")
        assert lines[24].startswith(" F3=Exit")
        await pilot.press("f11")
        assert message(app) == "All columns are shown at this width."


async def test_editor_f4_lists_the_partitions(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await option(pilot, "RCVPNT", "2")
        await pilot.press("enter")
        await settle(pilot)
        ed = app.screen
        ed.fields["clone"].focus()
        await pilot.press("f4")
        await settle(pilot)
        assert "Select Clone partition" in screen_lines(app)[0]
        assert [r.key for r in app.screen.subfile.rows] == ["CLONE1", "CLONE2", "CLONE3", "PROD"]
        await option(pilot, "CLONE2", "1")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is ed and ed.fields["clone"].value == "CLONE2"


PANEL_MODULES = ("screens.app, screens.wrkflenv, screens.envedit, screens.runpanel, screens.fldsphst, "
                 "screens.logview, screens.wrkfldfn, screens.prompt")
HEAVY = "('paramiko', 'flash4i_tui.devices', 'flash4i_tui.engine.runner')"


def _heavy_imports(code: str) -> str:
    import subprocess
    out = subprocess.run([sys.executable, "-c", f"import sys; {code}; print([m for m in {HEAVY} if m in sys.modules])"],
                         capture_output=True, text=True, check=True, cwd=repo_path())
    return out.stdout.strip()


def test_the_panels_import_no_driver():
    """Principle 1 and a fast start: the panels load neither paramiko nor a driver."""
    assert _heavy_imports(f"import {PANEL_MODULES}") == "[]"


def test_the_cli_start_of_the_panels_imports_no_driver():
    """`flash4i` builds its whole parser before it opens the panels: that must stay light too."""
    assert _heavy_imports(f"import flash4i_tui.cli as c; c.build_parser(); import {PANEL_MODULES}") == "[]"


# ------------------------------------------------------------------ the CL parser (no Textual)

def test_cl_parser():
    assert parse("fldsphst env(nightly)").values == {"ENV": "NIGHTLY"}
    assert parse("FLDSPHST").values == {"ENV": "*ALL"}
    assert parse("DSPFLLOG 12 *joblog").values == {"RUN": "12", "LOG": "*JOBLOG"}
    assert parse("QSYS/STRFLENV ENV('Nightly')").values == {"ENV": "Nightly"}
    for text, error in (("NOPE", "CPD0030 Command NOPE not found."), ("DSPFLLOG", "Parameter RUN required."),
                        ("DSPFLLOG RUN(x)", "Value 'X' for parameter RUN not a valid number."),
                        ("FLDSPHST ENV(A", "Parentheses are not balanced."),
                        ("FLDSPHST FOO(A)", "Keyword FOO not valid for this command."),
                        ("STRFLENV ENV('A", "Closing apostrophe is missing.")):
        with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
            parse(text)
    assert build(COMMANDS["DSPFLLOG"], {"RUN": "7", "LOG": "*QHST"}) == "DSPFLLOG RUN(7)"
    assert build(COMMANDS["STRFLENV"], {"ENV": "it's"}) == "STRFLENV ENV('it''s')"
