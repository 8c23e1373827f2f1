"""The QSYS2 views and table functions the lab serves (columns as IBM documents them;
columns or values not confirmed by the reference are marked [U])."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional

from .commands import Settings, display_system_value
from .sql import Context, SqlError, table_function, view
from .state import JobRecord, LogMessage

# ---------------------------------------------------------------- system


@view("QSYS2", "SYSTEM_STATUS_INFO", (
    "HOST_NAME", "PARTITION_ID", "PARTITION_NAME", "SERIAL_NUMBER", "MACHINE_SERIAL_NUMBER", "MACHINE_TYPE",
    "MACHINE_MODEL", "TOTAL_JOBS_IN_SYSTEM", "ACTIVE_JOBS_IN_SYSTEM", "RESTRICTED_STATE", "OS_VERSION",
    "OS_RELEASE"))
def system_status_info(ctx: Context) -> List[Dict[str, Any]]:
    rt = ctx.rt
    machine_type, _, model = rt.type_model.partition("-")
    release = ctx.state.release
    return [{
        "HOST_NAME": ctx.state.sysname, "PARTITION_ID": rt.partition_id, "PARTITION_NAME": rt.partition_name,
        "SERIAL_NUMBER": rt.serial, "MACHINE_SERIAL_NUMBER": rt.serial, "MACHINE_TYPE": machine_type or None,
        "MACHINE_MODEL": model or None, "TOTAL_JOBS_IN_SYSTEM": len(rt.jobs) + len(ctx.state.ended_jobs),
        "ACTIVE_JOBS_IN_SYSTEM": sum(1 for j in rt.jobs.values() if j.rec.status == "ACTIVE"),
        "RESTRICTED_STATE": "YES" if rt.restricted else "NO",                          # [U]
        "OS_VERSION": release[1:2], "OS_RELEASE": release[3:4],
    }]


@view("SYSIBM", "SYSDUMMY1", ("IBMREQD",))
def sysdummy1(ctx: Context) -> List[Dict[str, Any]]:
    return [{"IBMREQD": "Y"}]


@view("QSYS2", "NETWORK_ATTRIBUTE_INFO", (
    "HOST_NAME", "PENDING_HOST_NAME", "SYSTEM_NAME", "PENDING_SYSTEM_NAME", "LOCAL_NETWORK_ID",
    "LOCAL_CONTROL_POINT_NAME", "DEFAULT_LOCAL_LOCATION_NAME"))
def network_attribute_info(ctx: Context) -> List[Dict[str, Any]]:
    # The reference names HOST_NAME / PENDING_HOST_NAME; SYSTEM_NAME / PENDING_SYSTEM_NAME are
    # served too with the same values [U: which pair the real view has].
    net = ctx.state.network
    return [{"HOST_NAME": net.sysname, "PENDING_HOST_NAME": net.pending_sysname,
             "SYSTEM_NAME": net.sysname, "PENDING_SYSTEM_NAME": net.pending_sysname,
             "LOCAL_NETWORK_ID": net.lclnetid, "LOCAL_CONTROL_POINT_NAME": net.lclcpname,
             "DEFAULT_LOCAL_LOCATION_NAME": net.lcllocname}]


@view("QSYS2", "SYSTEM_VALUE_INFO", ("SYSTEM_VALUE_NAME", "CURRENT_NUMERIC_VALUE", "CURRENT_CHARACTER_VALUE"))
def system_value_info(ctx: Context) -> List[Dict[str, Any]]:
    rows = []
    for name, value in sorted(ctx.state.system_values.items()):
        if name == "QSRLNBR":
            value = ctx.rt.serial
        shown = display_system_value(name, value)
        numeric = isinstance(shown, int)
        rows.append({"SYSTEM_VALUE_NAME": name, "CURRENT_NUMERIC_VALUE": shown if numeric else None,
                     "CURRENT_CHARACTER_VALUE": None if numeric else str(shown)})
    return rows


# ---------------------------------------------------------------- job scheduler


def _next_submission(entry: Any, today: date) -> Optional[date]:
    """An approximation of the next date the entry submits its job [U]."""
    if entry.frequency == "*MONTHLY":
        last = calendar.monthrange(today.year, today.month)[1]
        return date(today.year, today.month, last)
    if entry.frequency == "*WEEKLY":
        days = [d.upper() for d in entry.days]
        names = ["*MON", "*TUE", "*WED", "*THU", "*FRI", "*SAT", "*SUN"]
        for ahead in range(0, 8):
            candidate = today + timedelta(days=ahead)
            if "*ALL" in days or names[candidate.weekday()] in days:
                return candidate
    return None


@view("QSYS2", "SCHEDULED_JOB_INFO", (
    "SCHEDULED_JOB_ENTRY_NUMBER", "SCHEDULED_JOB_NAME", "SCHEDULED_DATE_VALUE", "SCHEDULED_TIME",
    "SCHEDULED_DAYS", "FREQUENCY", "RECOVERY_ACTION", "NEXT_SUBMISSION_DATE", "STATUS", "JOB_QUEUE_NAME",
    "JOB_QUEUE_LIBRARY_NAME", "USER_PROFILE_FOR_SUBMITTED_JOB", "COMMAND_STRING", "DESCRIPTION",
    "SCHEDULED_BY"))
def scheduled_job_info(ctx: Context) -> List[Dict[str, Any]]:
    today = ctx.now().date()
    rows = []
    for entry in ctx.state.schedule:
        lib, _, queue = entry.jobq.rpartition("/")
        rows.append({
            "SCHEDULED_JOB_ENTRY_NUMBER": entry.number, "SCHEDULED_JOB_NAME": entry.name,
            "SCHEDULED_DATE_VALUE": entry.date if entry.date.startswith("*") else entry.date,
            "SCHEDULED_TIME": entry.time, "SCHEDULED_DAYS": " ".join(entry.days),
            "FREQUENCY": entry.frequency, "RECOVERY_ACTION": entry.recovery,
            "NEXT_SUBMISSION_DATE": _next_submission(entry, today),
            "STATUS": Settings.SCHEDULE_STATUS_SQL.get(entry.status, entry.status),
            "JOB_QUEUE_NAME": queue, "JOB_QUEUE_LIBRARY_NAME": lib or "*LIBL",
            "USER_PROFILE_FOR_SUBMITTED_JOB": entry.user, "COMMAND_STRING": entry.command,
            "DESCRIPTION": entry.description, "SCHEDULED_BY": "QSECOFR"})
    return rows


# ---------------------------------------------------------------- network


@view("QSYS2", "NETSTAT_INTERFACE_INFO", (
    "CONNECTION_TYPE", "INTERNET_ADDRESS", "NETWORK_ADDRESS", "SUBNET_MASK", "LINE_DESCRIPTION",
    "INTERFACE_LINE_TYPE", "INTERFACE_STATUS", "AUTOSTART", "ALIAS_NAME"))
def netstat_interface_info(ctx: Context) -> List[Dict[str, Any]]:
    rows = []
    for iface in ctx.state.interfaces.values():
        status = ctx.rt.interfaces.get(iface.address, "INACTIVE")
        network = ".".join(str(int(a) & int(m)) for a, m in zip(iface.address.split("."), iface.subnet_mask.split("."))) \
            if iface.address.count(".") == 3 and iface.subnet_mask.count(".") == 3 else None
        line = ctx.state.lines.get(iface.line)
        rows.append({"CONNECTION_TYPE": "IPV4", "INTERNET_ADDRESS": iface.address, "NETWORK_ADDRESS": network,
                     "SUBNET_MASK": iface.subnet_mask, "LINE_DESCRIPTION": iface.line,
                     "INTERFACE_LINE_TYPE": (line.kind.lstrip("*") if line else iface.line.lstrip("*")),
                     "INTERFACE_STATUS": status, "AUTOSTART": "YES" if iface.autostart else "NO",
                     "ALIAS_NAME": iface.alias or None})
    if ctx.rt.tcp_active:
        rows.append({"CONNECTION_TYPE": "IPV4", "INTERNET_ADDRESS": "127.0.0.1", "NETWORK_ADDRESS": "127.0.0.0",
                     "SUBNET_MASK": "255.0.0.0", "LINE_DESCRIPTION": "*LOOPBACK", "INTERFACE_LINE_TYPE": "*LOOPBACK",
                     "INTERFACE_STATUS": "ACTIVE", "AUTOSTART": "YES", "ALIAS_NAME": "LOCALHOST"})
    return rows


# ---------------------------------------------------------------- logs


def _message_row(ctx: Context, message: LogMessage, ordinal: int) -> Dict[str, Any]:
    return {"ORDINAL_POSITION": ordinal, "MESSAGE_ID": message.msg_id or None, "MESSAGE_TYPE": message.msg_type,
            "MESSAGE_SUBTYPE": None, "SEVERITY": message.severity, "MESSAGE_TIMESTAMP": ctx.local(message.at),
            "FROM_USER": message.from_user, "FROM_JOB": message.from_job or None,
            "FROM_PROGRAM": message.from_program or None,
            "MESSAGE_LIBRARY": "QSYS" if message.msg_id else None,
            "MESSAGE_FILE": "QCPFMSG" if message.msg_id else None,
            "MESSAGE_TEXT": message.text, "MESSAGE_SECOND_LEVEL_TEXT": None}


_LOG_COLUMNS = ("ORDINAL_POSITION", "MESSAGE_ID", "MESSAGE_TYPE", "MESSAGE_SUBTYPE", "SEVERITY",
                "MESSAGE_TIMESTAMP", "FROM_USER", "FROM_JOB", "FROM_PROGRAM", "MESSAGE_LIBRARY", "MESSAGE_FILE",
                "MESSAGE_TEXT", "MESSAGE_SECOND_LEVEL_TEXT")


class _Default:
    """Marker for a table-function parameter left to its default."""


@table_function("QSYS2", "HISTORY_LOG_INFO", _LOG_COLUMNS,
                (("START_TIME", _Default), ("END_TIME", _Default), ("GENERATE_SYSLOG", None)))
def history_log_info(ctx: Context, start_time: Any, end_time: Any, generate_syslog: Any) -> List[Dict[str, Any]]:
    from .sql import parse_timestamp
    now = ctx.now()
    start = datetime(now.year, now.month, now.day) - timedelta(days=1) if start_time is _Default \
        else parse_timestamp(start_time)
    end = datetime(9999, 12, 30) if end_time is _Default else parse_timestamp(end_time)
    rows = []
    for ordinal, message in enumerate(ctx.state.qhst, start=1):
        stamp = ctx.local(message.at)
        if start <= stamp <= end:
            rows.append(_message_row(ctx, message, ordinal))
    return rows


def _job_record(ctx: Context, name: str) -> Optional[JobRecord]:
    if name == "*":
        return ctx.job.rec if ctx.job is not None else None
    job = ctx.rt.find_job(name)
    if job is not None:
        return job.rec
    return ctx.state.ended_jobs.get(name.upper())


@table_function("QSYS2", "JOBLOG_INFO", tuple(c for c in _LOG_COLUMNS if c != "FROM_JOB"),
                (("JOB_NAME", "*"), ("IGNORE_ERRORS", "YES")))
def joblog_info(ctx: Context, job_name: Any, ignore_errors: Any) -> List[Dict[str, Any]]:
    record = _job_record(ctx, str(job_name).strip())
    if record is None:
        if str(ignore_errors).upper() == "YES":
            return []
        raise SqlError("SQL0443", "38501", f"Trigger program or external routine detected an error. "
                                           f"CPF3C53: Job {job_name} not found.")     # [U]
    rows = []
    for ordinal, message in enumerate(record.joblog, start=1):
        row = _message_row(ctx, message, ordinal)
        del row["FROM_JOB"]
        rows.append(row)
    return rows


_JOB_COLUMNS = ("JOB_NAME", "JOB_NAME_SHORT", "JOB_USER", "JOB_NUMBER", "JOB_STATUS", "JOB_TYPE",
                "JOB_SUBSYSTEM", "JOB_ENTERED_SYSTEM_TIME", "JOB_ACTIVE_TIME", "JOB_END_TIME",
                "JOB_END_SEVERITY", "COMPLETION_STATUS", "JOB_QUEUE_LIBRARY", "JOB_QUEUE_NAME",
                "JOB_DESCRIPTION_LIBRARY", "JOB_DESCRIPTION", "SUBMITTER_JOB_NAME")


def _all_jobs(ctx: Context) -> Iterable[JobRecord]:
    yield from (j.rec for j in list(ctx.rt.jobs.values()))
    yield from list(ctx.state.ended_jobs.values())


def _job_row(ctx: Context, rec: JobRecord) -> Dict[str, Any]:
    jobq_lib, _, jobq = rec.jobq.rpartition("/")
    jobd_lib, _, jobd = rec.jobd.rpartition("/")
    return {"JOB_NAME": rec.qualified, "JOB_NAME_SHORT": rec.name, "JOB_USER": rec.user,
            "JOB_NUMBER": f"{rec.number:06d}", "JOB_STATUS": rec.status, "JOB_TYPE": rec.job_type,
            "JOB_SUBSYSTEM": rec.subsystem or None, "JOB_ENTERED_SYSTEM_TIME": ctx.local(rec.entered),
            "JOB_ACTIVE_TIME": ctx.local(rec.started), "JOB_END_TIME": ctx.local(rec.ended),
            "JOB_END_SEVERITY": rec.end_severity if rec.ended else None,
            "COMPLETION_STATUS": rec.completion or None, "JOB_QUEUE_LIBRARY": jobq_lib or None,
            "JOB_QUEUE_NAME": jobq or None, "JOB_DESCRIPTION_LIBRARY": jobd_lib or None,
            "JOB_DESCRIPTION": jobd or None, "SUBMITTER_JOB_NAME": rec.submitter or None}


_JOB_TYPES = {"*BATCH": ("BCH", "BCI"), "*INTERACT": ("INT",), "*AUTOSTART": ("ASJ",), "*SYSTEM": ("SYS",),
              "*SUBSYSTEM": ("SBS",)}


@table_function("QSYS2", "JOB_INFO", _JOB_COLUMNS,
                (("JOB_STATUS_FILTER", "*ALL"), ("JOB_TYPE_FILTER", "*ALL"), ("JOB_SUBSYSTEM_FILTER", "*ALL"),
                 ("JOB_USER_FILTER", "*USER"), ("JOB_SUBMITTER_FILTER", "*ALL")))
def job_info(ctx: Context, job_status_filter: Any, job_type_filter: Any, job_subsystem_filter: Any,
             job_user_filter: Any, job_submitter_filter: Any) -> List[Dict[str, Any]]:
    status = str(job_status_filter).upper()
    kind = str(job_type_filter).upper()
    subsystem = str(job_subsystem_filter).upper()
    user = str(job_user_filter).upper()
    if user == "*USER":
        user = ctx.job.user if ctx.job is not None else "*ALL"
    rows = []
    for rec in _all_jobs(ctx):
        if status != "*ALL" and rec.status != status.lstrip("*"):
            continue
        if kind != "*ALL" and rec.job_type not in _JOB_TYPES.get(kind, ()):
            continue
        if subsystem != "*ALL" and rec.subsystem != subsystem:
            continue
        if user != "*ALL" and rec.user != user:
            continue
        if str(job_submitter_filter).upper() == "*JOB" and rec.submitter != (ctx.job.qualified if ctx.job else ""):
            continue
        rows.append(_job_row(ctx, rec))
    return rows


@table_function("QSYS2", "ACTIVE_JOB_INFO", (
    "ORDINAL_POSITION", "JOB_NAME", "JOB_NAME_SHORT", "JOB_USER", "JOB_NUMBER", "SUBSYSTEM", "JOB_TYPE",
    "JOB_STATUS", "FUNCTION", "ELAPSED_CPU_PERCENTAGE", "AUTHORIZATION_NAME"),
    (("RESET_STATISTICS", "NO"), ("SUBSYSTEM_LIST_FILTER", None), ("JOB_NAME_FILTER", None),
     ("CURRENT_USER_LIST_FILTER", None), ("DETAILED_INFO", "NONE")))
def active_job_info(ctx: Context, reset_statistics: Any, subsystem_list_filter: Any, job_name_filter: Any,
                    current_user_list_filter: Any, detailed_info: Any) -> List[Dict[str, Any]]:
    subsystems = [s.strip().upper() for s in str(subsystem_list_filter).split(",")] if subsystem_list_filter else None
    users = [u.strip().upper() for u in str(current_user_list_filter).split(",")] if current_user_list_filter else None
    rows = []
    for job in list(ctx.rt.jobs.values()):
        rec = job.rec
        if rec.status != "ACTIVE":
            continue
        if job_name_filter == "*" and job is not ctx.job:
            continue
        if job_name_filter not in (None, "*") and rec.name != str(job_name_filter).upper():
            continue
        if subsystems is not None and rec.subsystem not in subsystems:
            continue
        if users is not None and rec.user not in users:
            continue
        rows.append({"ORDINAL_POSITION": len(rows) + 1, "JOB_NAME": rec.qualified, "JOB_NAME_SHORT": rec.name,
                     "JOB_USER": rec.user, "JOB_NUMBER": f"{rec.number:06d}", "SUBSYSTEM": rec.subsystem or None,
                     "JOB_TYPE": rec.job_type, "JOB_STATUS": "RUN" if job is ctx.job else "DEQW",
                     "FUNCTION": None, "ELAPSED_CPU_PERCENTAGE": 0, "AUTHORIZATION_NAME": rec.user})
    return rows


# ---------------------------------------------------------------- journals and objects (the clone's proof)


@view("QSYS2", "JOURNAL_RECEIVER_INFO", (
    "JOURNAL_RECEIVER_LIBRARY", "JOURNAL_RECEIVER_NAME", "JOURNAL_RECEIVER_ASP_NAME", "JOURNAL_LIBRARY",
    "JOURNAL_NAME", "STATUS", "FIRST_SEQUENCE_NUMBER", "LAST_SEQUENCE_NUMBER"))
def journal_receiver_info(ctx: Context) -> List[Dict[str, Any]]:
    # Column names as IBM documents the view (7.5); STATUS 'ATTACHED' and the sequence columns [U]:
    # the lab keeps one receiver per journal, the attached one.
    return [{"JOURNAL_RECEIVER_LIBRARY": j.library, "JOURNAL_RECEIVER_NAME": j.receiver,
             "JOURNAL_RECEIVER_ASP_NAME": "*SYSBAS", "JOURNAL_LIBRARY": j.library, "JOURNAL_NAME": j.name,
             "STATUS": "ATTACHED", "FIRST_SEQUENCE_NUMBER": 1, "LAST_SEQUENCE_NUMBER": j.sequence}
            for j in ctx.state.journals.values()]


@table_function("QSYS2", "OBJECT_STATISTICS", ("OBJNAME", "OBJTYPE", "OBJLIB", "OBJATTRIBUTE", "OBJSIZE"),
                (("OBJECT_SCHEMA", None), ("OBJTYPELIST", "*ALL")))
def object_statistics(ctx: Context, object_schema: Any, objtypelist: Any) -> List[Dict[str, Any]]:
    library = ctx.state.library(str(object_schema or "").upper())
    if library is None:        # [U] the real message of an unknown library
        raise SqlError("SQL0443", "38501", f"Library {object_schema} not found.")
    wanted = {t.strip().upper() for t in str(objtypelist or "*ALL").split()}
    return [{"OBJNAME": o.name, "OBJTYPE": o.type, "OBJLIB": library.name, "OBJATTRIBUTE": o.attribute or None,
             "OBJSIZE": o.size + len(o.data)}
            for o in library.objects.values() if "*ALL" in wanted or o.type in wanted]
