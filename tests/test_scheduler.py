"""Schedules: due times across daylight-saving changes, one decision per slot (even with two
schedulers racing on one store), skips recorded with their reason, no backlog after downtime."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine.queue import request_cancel
from flash4i_tui.engine.schedule import latest_due, next_run, next_times, schedule_zone
from flash4i_tui.engine.scheduler import Scheduler, schedule_overview
from flash4i_tui.errors import ValidationError
from flash4i_tui.store import models as m

from .conftest import SAMPLE

BERLIN = ZoneInfo("Europe/Berlin")
LONG_AGO = datetime(2020, 1, 1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# ------------------------------------------------------------------ due times (no store)

# Europe/Berlin 2024: clocks go 02:00 CET -> 03:00 CEST on 31 March, 03:00 CEST -> 02:00 CET on 27 October.
@pytest.mark.parametrize("expr, after, expected", [
    # 02:30 does not exist on 31 March: the job runs right after the change (03:00 CEST = 01:00 UTC)
    ("30 2 * * *", utc(2024, 3, 29, 12), [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)]),
    # 02:30 exists twice on 27 October: the job runs once, at the first (CEST, 00:30 UTC)
    ("30 2 * * *", utc(2024, 10, 25, 12), [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30),
                                          utc(2024, 10, 28, 1, 30)]),
    # midnight stays local midnight: one hour earlier in UTC from summer time on, and back
    ("0 0 * * *", utc(2024, 3, 29, 12), [utc(2024, 3, 29, 23), utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)]),
    ("0 0 * * *", utc(2024, 10, 25, 12), [utc(2024, 10, 25, 22), utc(2024, 10, 26, 22), utc(2024, 10, 27, 23)]),
    # the shipped examples keep their local hour across the change
    ("0 7,19 * * *", utc(2024, 3, 30, 12), [utc(2024, 3, 30, 18), utc(2024, 3, 31, 5), utc(2024, 3, 31, 17)]),
    ("0 6 * * 0", utc(2024, 10, 20, 12), [utc(2024, 10, 27, 5), utc(2024, 11, 3, 5), utc(2024, 11, 10, 5)]),
])
def test_due_times_across_daylight_saving(expr, after, expected):
    assert next_times(expr, after, tz=BERLIN, count=3) == expected
    for due in expected:      # the latest due time at (and just after) each slot is that slot
        assert latest_due(expr, due, BERLIN) == due
        assert latest_due(expr, due + timedelta(minutes=1), BERLIN) == due
        assert latest_due(expr, due - timedelta(seconds=1), BERLIN) != due


def test_repeated_hour_does_not_bring_back_a_fixed_hour_job():
    # 01:45 UTC is 02:45 CET, inside the repeated hour: the 02:30 job was at 00:30 UTC, once.
    assert latest_due("30 2 * * *", utc(2024, 10, 27, 1, 45), BERLIN) == utc(2024, 10, 27, 0, 30)
    # an hourly job runs in both passes of the repeated hour
    assert latest_due("30 * * * *", utc(2024, 10, 27, 1, 45), BERLIN) == utc(2024, 10, 27, 1, 30)
    assert latest_due("30 * * * *", utc(2024, 10, 27, 0, 45), BERLIN) == utc(2024, 10, 27, 0, 30)


def test_naive_times_are_utc_and_the_zone_comes_from_the_environment(monkeypatch):
    assert next_times("0 0 * * *", datetime(2024, 3, 30, 12), tz=BERLIN) == [utc(2024, 3, 30, 23)]
    monkeypatch.setenv("FLASH4I_TZ", "America/New_York")
    assert schedule_zone().key == "America/New_York"
    assert next_times("0 0 * * *", utc(2024, 3, 9, 12)) == [utc(2024, 3, 10, 5)]      # EST
    assert next_times("0 0 * * *", utc(2024, 3, 10, 12)) == [utc(2024, 3, 11, 4)]     # EDT
    assert schedule_zone("Europe/Berlin") is not None
    with pytest.raises(ValidationError, match="unknown time zone"):
        schedule_zone("Mars/Olympus")


def test_next_run_for_panels():
    assert next_run({"schedule": "0 7,19 * * *"}, utc(2024, 3, 30, 12), tz=BERLIN) == utc(2024, 3, 30, 18)
    assert next_run({"schedule": None}) is None
    assert next_run({"schedule": "61 * * * *"}) is None       # unreadable: shown as nothing, never a crash

    class Row:
        schedule = "0 0 * * *"
    assert next_run(Row(), utc(2024, 10, 26, 12), tz=BERLIN) == utc(2024, 10, 26, 22)


# ------------------------------------------------------------------ deciding slots (store)

@pytest.fixture
def sample(store):
    import_config(load_config_file(SAMPLE))
    # every environment has existed long before the times the tests use
    m.Environment.update(updated_at=LONG_AGO).execute()
    return store


def only(env_name: str, schedule: str) -> None:
    """Leave one scheduled environment, with SCHEDULE."""
    m.Environment.update(schedule=None).execute()
    m.Environment.update(schedule=schedule).where(m.Environment.name == env_name).execute()


def make_scheduler(url: str, **kwargs) -> Scheduler:
    lines = []
    sched = Scheduler(url, tz=kwargs.pop("tz", BERLIN), start_worker=False, log=lines.append, **kwargs)
    sched.lines = lines
    return sched


def slots(env_name: str):
    return list(m.ScheduleSlot.select().join(m.Environment).where(m.Environment.name == env_name)
                .order_by(m.ScheduleSlot.slot_at))


def test_a_slot_starts_once(sample, store_url):
    only("NIGHTLY", "0 0 * * *")
    sched = make_scheduler(store_url)
    now = utc(2024, 6, 1, 22, 0, 5)          # 00:00:05 CEST
    first = sched.tick(now)
    assert [(d.environment, d.slot_at, d.status) for d in first] == [("NIGHTLY", utc(2024, 6, 1, 22), "STARTED")]
    assert sched.tick(now) == [] and sched.tick(now + timedelta(seconds=20)) == []
    run = m.Run.get_by_id(first[0].run_id)
    assert (run.state, run.requested_by, run.schedule_slot) == ("QUEUED", "scheduler", datetime(2024, 6, 1, 22))
    assert m.Run.select().count() == 1
    assert [(s.status, s.run_id) for s in slots("NIGHTLY")] == [("STARTED", run.id)]
    assert "run %d queued" % run.id in sched.lines[0]


def test_a_slot_of_a_busy_environment_is_skipped_with_the_reason(sample, store_url):
    only("NIGHTLY", "0 7,19 * * *")
    sched = make_scheduler(store_url)
    run_id = sched.tick(utc(2024, 6, 1, 5, 0, 10))[0].run_id
    m.Run.update(state="RUNNING").where(m.Run.id == run_id).execute()        # still running at 19:00
    decision = sched.tick(utc(2024, 6, 1, 17, 0, 10))[0]
    assert (decision.status, decision.run_id) == ("SKIPPED", None)
    assert decision.note == f"run {run_id} of NIGHTLY is still RUNNING"
    assert [(s.status, s.note) for s in slots("NIGHTLY")][1] == ("SKIPPED", decision.note)
    assert m.Run.select().count() == 1                                        # nothing queued behind it
    assert sched.tick(utc(2024, 6, 1, 17, 5)) == []                           # and it stays decided
    # another environment on the same clone: the queue refuses it, the skip says why
    m.Environment.update(schedule="0 6 * * 0").where(m.Environment.name == "SUNDAY21").execute()
    skip = sched.tick(utc(2024, 6, 2, 4, 0, 10))[0]
    assert (skip.environment, skip.status) == ("SUNDAY21", "SKIPPED")
    assert "clone partition HMC1/P10-PROD/5 is in use by run" in skip.note
    assert m.Run.select().count() == 1


def test_missed_slots_no_backlog(sample, store_url):
    only("RCVPNT", "0 * * * *")                                              # hourly
    sched = make_scheduler(store_url, grace=timedelta(hours=1))
    # within the grace: the slot starts late
    late = sched.tick(utc(2024, 6, 1, 10, 40))
    assert [(d.slot_at, d.status) for d in late] == [(utc(2024, 6, 1, 10), "STARTED")]
    request_cancel(late[0].run_id)
    # the scheduler was down from 10:40 to 16:30: only the 16:00 slot is considered, and it starts
    back = sched.tick(utc(2024, 6, 1, 16, 30))
    assert [(d.slot_at, d.status) for d in back] == [(utc(2024, 6, 1, 16), "STARTED")]
    request_cancel(back[0].run_id)
    assert [s.slot_at for s in slots("RCVPNT")] == [datetime(2024, 6, 1, 10), datetime(2024, 6, 1, 16)]
    # a daily slot found 5 hours late is recorded as missed, not started
    only("RCVPNT", "0 0 * * *")
    missed = sched.tick(utc(2024, 6, 2, 3))                                  # 05:00 CEST, slot 00:00 CEST
    assert [(d.slot_at, d.status) for d in missed] == [(utc(2024, 6, 1, 22), "SKIPPED")]
    assert missed[0].note.startswith("missed: the scheduler first saw this slot 5h00m after its time")
    assert m.Run.select().where(m.Run.state == "QUEUED").count() == 0
    # a slot due before the schedule was set is not a missed slot
    m.Environment.update(updated_at=datetime(2024, 6, 3, 1)).where(m.Environment.name == "RCVPNT").execute()
    assert sched.tick(utc(2024, 6, 3, 3)) == []
    assert len(slots("RCVPNT")) == 3


def _cancel_queued() -> None:
    for run in m.Run.select().where(m.Run.state == "QUEUED"):
        request_cancel(run.id)


@pytest.mark.parametrize("zone, start, hours", [
    ("Europe/Berlin", utc(2024, 3, 30, 20), 10),       # spring forward
    ("Europe/Berlin", utc(2024, 10, 26, 20), 10),      # fall back
])
def test_ticking_through_a_change_of_time_starts_each_job_once(sample, store_url, zone, start, hours):
    m.Environment.update(schedule="30 2 * * *").where(m.Environment.name == "NIGHTLY").execute()
    m.Environment.update(schedule="0 0 * * *").where(m.Environment.name == "TESTCOPY").execute()
    m.Environment.update(schedule=None).where(m.Environment.name.not_in(["NIGHTLY", "TESTCOPY"])).execute()
    m.Environment.update(updated_at=start.replace(tzinfo=None)).execute()     # schedules set at START
    sched = make_scheduler(store_url, tz=ZoneInfo(zone))
    now = start
    while now < start + timedelta(hours=hours):           # a tick every 5 minutes through the night
        sched.tick(now)
        _cancel_queued()
        now += timedelta(minutes=5)
    expected = {"NIGHTLY": next_times("30 2 * * *", start, ZoneInfo(zone)),
                "TESTCOPY": next_times("0 0 * * *", start, ZoneInfo(zone))}
    for env_name, times in expected.items():
        assert [(s.slot_at, s.status) for s in slots(env_name)] == \
            [(times[0].replace(tzinfo=None), "STARTED")], env_name
    assert m.Run.select().count() == 2


def test_schedule_overview(sample, store_url):
    only("NIGHTLY", "0 0 * * *")
    sched = make_scheduler(store_url)
    sched.tick(utc(2024, 6, 1, 22, 0, 5))
    rows = schedule_overview(count=2, now=utc(2024, 6, 2, 12), tz=BERLIN)
    assert [r["environment"] for r in rows] == ["NIGHTLY"]
    assert rows[0]["next"] == ["2024-06-03T00:00:00+02:00", "2024-06-04T00:00:00+02:00"]
    assert rows[0]["timezone"] == "Europe/Berlin"
    assert rows[0]["last_slot"]["slot_at"] == "2024-06-01T22:00:00Z" and rows[0]["last_slot"]["status"] == "STARTED"


# ------------------------------------------------------------------ two schedulers, one store

SCHEDULED = ("NIGHTLY", "TESTCOPY", "RCVPNT")


def _scheduler_process(url: str, nows, barrier, leader: bool, out) -> None:
    from flash4i_tui.engine.scheduler import Scheduler
    try:
        lines = []
        sched = Scheduler(url, tz=timezone.utc, start_worker=False, log=lines.append)
        started = []
        for now in nows:
            barrier.wait(60)                       # both decide the same slots at the same moment
            started += [(d.environment, d.slot_at) for d in sched.tick(now) if d.status == "STARTED"]
            barrier.wait(60)
            if leader:
                _cancel_queued()                   # free the clones for the next slot
            barrier.wait(60)
        out.put(("ok", started, [line for line in lines if line.startswith("scheduler:")]))
    except BaseException as exc:                   # report, never hang the other process
        barrier.abort()
        out.put(("error", [], [repr(exc)]))


def test_two_schedulers_start_exactly_one_run_per_slot(sample, store_url):
    m.Environment.update(schedule=None).execute()
    m.Environment.update(schedule="* * * * *").where(m.Environment.name.in_(SCHEDULED)).execute()
    nows = [utc(2024, 6, 1, 10, i) for i in range(12)]
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_scheduler_process, args=(store_url, nows, barrier, i == 0, out)) for i in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(kind == "ok" and not problems for kind, _, problems in results), results
    started = [item for _, items, _ in results for item in items]
    assert len(started) == len(set(started)) == len(nows) * len(SCHEDULED)
    for env_name in SCHEDULED:
        decided = slots(env_name)
        assert [s.slot_at for s in decided] == [n.replace(tzinfo=None) for n in nows]
        assert all(s.status == "STARTED" and s.run_id for s in decided)
        runs = m.Run.select().where(m.Run.env_name == env_name)
        assert sorted(r.schedule_slot for r in runs) == [n.replace(tzinfo=None) for n in nows]
