"""flash4i status, check, scheduler, schedule list: monitoring and scheduling."""
from __future__ import annotations

import argparse
from datetime import timedelta

from ..monitor import DEFAULT_TIMEOUT
from .common import open_store, print_json, print_table, seconds, whole_number


def cmd_status(args: argparse.Namespace) -> int:
    from ..engine.schedule import schedule_zone
    from ..monitor.status import render_text, status_of
    zone = schedule_zone(args.tz)
    open_store(args)
    data = status_of([args.env] if args.env else None, devices=not args.no_devices, timeout=args.timeout, tz=zone)
    if args.json:
        print_json(data)
        return 0
    if not data["environments"]:
        print("no environments defined")
        return 0
    # times in the operator's local time, or in the zone asked for
    print("\n\n".join(render_text(status, zone if args.tz else None) for status in data["environments"]))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ..monitor.check import run_check
    return run_check(args)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from ..engine.schedule import schedule_zone
    from ..engine.scheduler import Scheduler
    scheduler = Scheduler(args.db, tz=schedule_zone(args.tz), grace=timedelta(minutes=args.grace),
                          interval=args.interval, start_worker=not args.no_worker)
    scheduler.install_signal_handlers()
    return scheduler.serve(once=args.once)


def cmd_schedule_list(args: argparse.Namespace) -> int:
    from datetime import datetime
    from ..engine.scheduler import schedule_overview
    from ..engine.schedule import schedule_zone
    tz = schedule_zone(args.tz)
    open_store(args)
    rows = schedule_overview(count=args.count, tz=tz)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no environment has a schedule")
        return 0

    def when(iso: str) -> str:
        return datetime.fromisoformat(iso).strftime("%a %Y-%m-%d %H:%M")

    def last(row: dict) -> str:
        slot = row["last_slot"]
        if slot is None:
            return ""
        local = datetime.fromisoformat(slot["slot_at"].rstrip("Z") + "+00:00").astimezone(tz)
        what = f"run {slot['run']}" if slot["status"] == "STARTED" else slot["note"]
        return f"{local:%Y-%m-%d %H:%M} {slot['status']}" + (f" ({what})" if what else "")

    print(f"Schedules read in {rows[0]['timezone']}")
    print_table(["Environment", "Cron", "Next runs", "Last slot"],
                [[r["environment"], r["cron"], r["error"] or ", ".join(when(t) for t in r["next"]), last(r)]
                 for r in rows])
    return 0


def _check_usage_error(message: str) -> None:
    from ..monitor.check import usage_error
    usage_error(message)


def add_commands(sub: argparse._SubParsersAction) -> None:

    p = sub.add_parser("status", help="FlashCopy, clone partition, function progress, last and active run, "
                                      "next scheduled times of each environment")
    p.add_argument("env", nargs="?", help="only this environment")
    p.add_argument("--json", action="store_true", help="machine-readable, stable keys")
    p.add_argument("--no-devices", action="store_true", help="only what the store knows (ask no device)")
    p.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, help="seconds per device call")
    p.add_argument("--tz", help="time zone of the schedules (default $FLASH4I_TZ or the host's)")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("check", help="monitoring plugin: Nagios/Icinga status line and exit code, or PRTG JSON",
                       description="Exit codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (PRTG format: always 0).")
    p.add_argument("env")
    p.add_argument("--warn-age", type=float, metavar="HOURS", help="WARNING if the last success is older")
    p.add_argument("--max-age", type=float, metavar="HOURS", help="CRITICAL if the last success is older")
    p.add_argument("--warn-suspend", type=float, default=5.0, metavar="S",
                   help="WARNING if the last suspended window was longer (default 5)")
    p.add_argument("--crit-suspend", type=float, default=30.0, metavar="S",
                   help="CRITICAL if the last suspended window was longer (default 30)")
    p.add_argument("--format", choices=("nagios", "prtg"), default="nagios")
    p.add_argument("--no-devices", action="store_true", help="judge from the store only")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per device call")
    p.set_defaults(handler=cmd_check)
    p.error = _check_usage_error   # bad arguments are UNKNOWN (exit 3), not argparse's exit 2

    p = sub.add_parser("scheduler", help="start runs when their cron schedule is due (loop; SIGTERM stops it)")
    p.add_argument("--once", action="store_true", help="decide the due slots once and exit")
    p.add_argument("--tz", help="time zone of the schedules (default $FLASH4I_TZ or the host's)")
    p.add_argument("--interval", type=float, default=20.0, help="seconds between two looks (default 20)")
    p.add_argument("--grace", type=float, default=60.0, metavar="MINUTES",
                   help="start a slot found this late at most; later it is recorded as missed (default 60)")
    p.add_argument("--no-worker", action="store_true", help="only queue the runs (start no worker)")
    p.set_defaults(handler=cmd_scheduler)

    p = sub.add_parser("schedule", help="scheduled environments")
    ssub = p.add_subparsers(dest="schedule_command", required=True, metavar="{list}")
    lst = ssub.add_parser("list", help="the next run times of every scheduled environment and its last slot")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--count", type=whole_number(1, 100), default=3, help="how many next times (default 3)")
    lst.add_argument("--tz", help="time zone of the schedules (default $FLASH4I_TZ or the host's)")
    lst.set_defaults(handler=cmd_schedule_list)
