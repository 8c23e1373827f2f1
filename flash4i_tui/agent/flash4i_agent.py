"""flash4i clone agent: runs on IBM i (Python 3.9 in PASE) at every IPL, through the startup
program FLASH4I/FLSTRUP, and as the job that runs a clone's function.

One self-contained file, standard library only: it is copied to the partition as is.

    python3.9 flash4i_agent.py ipl             at IPL (from FLASH4I/FLSTRUP)
    python3.9 flash4i_agent.py function RUNID  the function job (*BRMS, *USER), submitted at the clone's IPL
    python3.9 flash4i_agent.py check           self-check of the installation (JSON on stdout)
    python3.9 flash4i_agent.py --version

What it decides at IPL, from the partition id read through SQL (QSYS2.SYSTEM_STATUS_INFO):

- production (the partition id and serial recorded by `flash4i agent install`): nothing changes;
  TCP/IP is started if the source had STRTCP(*YES) before the install (the install sets
  STRTCP(*NO) so a clone never brings production's addresses up), then the wrapper chains to
  the original startup program;
- a clone with a valid order (/QOpenSys/flash4i/orders/lpar<id>.json: its partition id, a run id,
  not expired, not used yet): first IPL holds the job schedule entries, ends the Advanced Job
  Scheduler, changes the system name, replaces the interfaces, and restarts; after the restart it
  starts only what the function needs (never QBATCH) and the function. *SAVE21 saves first, in
  restricted state with production's identity, and re-identifies after the save;
- anything else: restricted state (controlling subsystem only, no TCP/IP), with a message to
  QSYSOPR and the history log. A clone never comes up as production.

The wrapper learns the decision from data area FLASH4I/FLSTRACT (*CHAIN or *HOLD): a CL program
cannot read the exit status of QSH, and an agent that fails leaves *UNKNOWN, which the wrapper
treats as *HOLD. The engine follows /QOpenSys/flash4i/status/run<id>.json over SSH.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone

VERSION = "1.0.0"
AGENT_DIR = "/QOpenSys/flash4i"
AGENT_FILE = AGENT_DIR + "/flash4i_agent.py"
INSTALL_RECORD = AGENT_DIR + "/agent.json"
ORDERS = AGENT_DIR + "/orders"
STATUS = AGENT_DIR + "/status"
# Written on production by the engine once the run's resume is done: (agent dir, clone partition id)
RESUMED_MARKER = "%s/orders/lpar%d.resumed.json"
LOGS = AGENT_DIR + "/logs"
WRAPPER = "FLASH4I/FLSTRUP"
ACTION_AREA = "FLASH4I/FLSTRACT"        # *CHAIN | *HOLD | *UNKNOWN, read by the wrapper
ORIGINAL_AREA = "FLASH4I/FLSTRORG"      # the original startup program, 'PGM       LIB       '
PYTHON = "/QOpenSys/pkgs/bin/python3.9"

CHAIN, HOLD = "*CHAIN", "*HOLD"
EXIT_CHAIN, EXIT_ERROR, EXIT_HOLD = 0, 1, 3
FUNCTIONS = ("*NONE", "*BRMS", "*SAVE21", "*USER")
ORDER_VERSION = 1
# What a clone starts after its re-identification restart (never QBATCH); the order may say otherwise.
CLONE_SUBSYSTEMS = ("QSYSWRK", "QUSRWRK")
FUNCTION_JOB_QUEUE = "QSYS/QSYSNOMAX"    # served by QSYSWRK
FUNCTION_JOB_NAME = "FLASH4IFN"
# QSTRUPPGM as SYSTEM_VALUE_INFO shows it: the object name first, then the library [U].
QUALIFIED_VALUE_OBJECT_FIRST = True
# Message ids the agent accepts as "already so" [U: ids not confirmed by the reference].
ALREADY = {
    "CRTLIB": ("CPF2111",),
    "CRTSAVF": ("CPF5813",),
    "STRSBS": ("CPF1010",),
    "STRTCP": ("TCP1A12",),
    "STRTCPIFC": ("TCP1D05",),
    "ADDTCPIFC": ("TCP1D08",),
    "ADDTCPRTE": ("TCP1D14",),
}
MESSAGE = re.compile(r"^([A-Z][A-Z0-9]{2}[0-9A-F]{4}):\s?(.*)$")
JOB = re.compile(r"\b([0-9]{6}/[A-Z$#@][A-Z0-9$#@_.]{0,9}/[A-Z$#@][A-Z0-9$#@_.]{0,9})\b")


# ====================================================================== the real system


class PaseHost:
    """The system the agent runs on, in PASE: CL through `system`, SQL through `db2util`.

    The same methods as the lab's LabHost (see flash4i_tui/lab/ibmi/agenthost.py). ROOT maps
    the IFS paths somewhere else (tests run it against fake programs in a folder)."""

    SYSTEM = "/QOpenSys/usr/bin/system"
    DB2UTIL = "/QOpenSys/pkgs/bin/db2util"

    def __init__(self, root="/", system=None, db2util=None):
        self.root = root
        self.system = system or self.SYSTEM
        self.db2util = db2util or self.DB2UTIL

    def _run(self, argv):
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")

    def _path(self, path):
        return path if self.root == "/" else os.path.join(self.root, path.lstrip("/"))

    def cl(self, command):
        return self._run([self.system, command])

    def sql(self, statement, params=()):
        argv = [self.db2util, statement, "-o", "json"]
        if params:
            argv += ["-p"] + [str(p) for p in params]
        return self._run(argv)

    def read_file(self, path):
        try:
            with open(self._path(path), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_file(self, path, data):
        # written whole, then renamed over: the engine never reads half a status file
        target = self._path(path)
        temporary = target + ".tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)

    def append_file(self, path, data):
        with open(self._path(path), "ab") as handle:
            handle.write(data)

    def remove_file(self, path):
        os.remove(self._path(path))

    def list_dir(self, path):
        return sorted(os.listdir(self._path(path)))

    def make_dirs(self, path):
        os.makedirs(self._path(path), exist_ok=True)

    def now(self):
        return datetime.now(timezone.utc)

    def sleep(self, seconds):
        time.sleep(seconds)

    def job_name(self):
        # [verify] PASE runs db2util in a job of its own, so '*' may name that job rather than
        # this one; the name is informative (the submitter records the function job's name).
        status, out, _ = self.sql("SELECT JOB_NAME FROM TABLE(QSYS2.ACTIVE_JOB_INFO(JOB_NAME_FILTER => '*')) X")
        try:
            return json.loads(out)["records"][0]["JOB_NAME"] if status == 0 else ""
        except (ValueError, KeyError, IndexError, TypeError):
            return ""


# ====================================================================== small helpers


class ClFailed(Exception):
    """A CL command ended with an escape message."""

    def __init__(self, command, msg_id, text):
        self.command, self.msg_id, self.text = command, msg_id, text
        super().__init__("%s: %s%s" % (command, msg_id + " " if msg_id else "", text))


def messages_of(*texts):
    """[(msg_id, text)] of every `XXXnnnn: text` line."""
    found = []
    for text in texts:
        for line in text.splitlines():
            match = MESSAGE.match(line.strip())
            if match:
                found.append((match.group(1), match.group(2)))
    return found


class ClRefused(ClFailed):
    """A command the agent will not build from these values (handled as a failed command)."""

    def __init__(self, why):
        super().__init__("", "", why)

    def __str__(self):
        return self.text


# ---------------------------------------------------------------- CL command building
# The agent's own copy of flash4i_tui/cl.py (it imports nothing of flash4i): same rules, same
# text; tests/test_cl.py runs one table of cases against both. Names and special values are
# IBMI_NAME and SPECIAL_VALUE (below, with the order's checks).

CL_COMMAND = re.compile(r"(?:[A-Z$#@][A-Z0-9$#@_]{0,9}/)?[A-Z$#@][A-Z0-9$#@_]{0,9}")
CL_KEYWORD = re.compile(r"[A-Z][A-Z0-9]{0,9}")
CL_WORD_RULE = ("an IBM i name (A-Z 0-9 $ # @ _, at most 10 characters, first not a digit), a qualified "
                "name LIB/OBJ or a special value *VALUE")


class ClStr(str):
    """A value to be sent as a quoted CL character literal ('...')."""


class ClCommand(str):
    """A command built by cl_command: it may be the value of another command's parameter."""


def cl_string(value):
    """VALUE as a CL character literal: apostrophes doubled, control characters refused."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ClRefused("%r contains control characters and cannot be sent to IBM i" % (value,))
    return "'" + value.replace("'", "''") + "'"


def _cl_word(text, where):
    parts = text.split("/")
    if len(parts) <= 2 and all(IBMI_NAME.fullmatch(p) or SPECIAL_VALUE.fullmatch(p) for p in parts):
        return text
    raise ClRefused("%s: %r is not %s" % (where, text, CL_WORD_RULE))


def _cl_value(value, where):
    if isinstance(value, ClCommand):
        return value
    if isinstance(value, ClStr):
        return cl_string(value)
    if isinstance(value, bool):
        return "*YES" if value else "*NO"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ClRefused("%s: an empty list cannot be sent" % where)
        return " ".join("(%s)" % _cl_value(v, where) if isinstance(v, (list, tuple)) else _cl_value(v, where)
                        for v in value)
    if isinstance(value, str):
        return _cl_word(value, where)
    raise ClRefused("%s: %r (%s) is not a CL value" % (where, value, type(value).__name__))


def cl_command(command, **params):
    """`COMMAND KW(value) ...` from PARAMS, in their order (the rules of flash4i_tui/cl.py)."""
    if not isinstance(command, str) or not CL_COMMAND.fullmatch(command):
        raise ClRefused("%r is not a CL command name" % (command,))
    parts = [command]
    for keyword, value in params.items():
        if not CL_KEYWORD.fullmatch(keyword):
            raise ClRefused("%s: %r is not a CL keyword" % (command, keyword))
        if value is not None:
            parts.append("%s(%s)" % (keyword, _cl_value(value, "%s %s" % (command, keyword))))
    return ClCommand(" ".join(parts))


def iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """An ISO timestamp from the order (naive means UTC)."""
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def qualified(value):
    """QSTRUPPGM's 20-character form -> 'LIB/PGM' ('*NONE' stays)."""
    text = (value or "").rstrip()
    if not text or text.upper() == "*NONE":
        return "*NONE"
    if "/" in text:
        return text.upper()
    first, second = text[:10].strip(), text[10:20].strip()
    obj, lib = (first, second) if QUALIFIED_VALUE_OBJECT_FIRST else (second, first)
    return "%s/%s" % (lib.upper(), obj.upper())


def sysval_form(lib_pgm):
    """'LIB/PGM' -> the 20-character form CHGSYSVAL and SYSTEM_VALUE_INFO use."""
    lib, _, pgm = lib_pgm.partition("/")
    first, second = (pgm, lib) if QUALIFIED_VALUE_OBJECT_FIRST else (lib, pgm)
    return "%-10s%-10s" % (first, second)


class Agent:
    """One run of the agent on one system."""

    def __init__(self, host):
        self.host = host
        self.log_path = LOGS + "/agent.log"
        self.status_path = None
        self.status = {}

    # ------------------------------------------------------------------ log and status

    def log(self, text):
        line = "%s %s\n" % (iso(self.host.now()), text)
        try:
            self.host.append_file(self.log_path, line.encode("utf-8"))
        except OSError:
            pass            # logging must never stop the agent

    def use_run(self, run_id):
        """From now on, log to the run's own log and keep the run's status file."""
        self.host.make_dirs(LOGS)
        self.host.make_dirs(STATUS)
        self.log_path = "%s/run%d-agent.log" % (LOGS, run_id)
        self.status_path = "%s/run%d.json" % (STATUS, run_id)
        previous = self.read_json(self.status_path)
        self.status = previous if isinstance(previous, dict) and previous.get("run_id") == run_id else {
            "run_id": run_id, "state": "running", "phase": "IPL", "progress": 0, "message": "",
            "function_job": None, "agent_log": self.log_path, "commands": []}
        self.status["agent_log"] = self.log_path

    def report(self, **fields):
        """Update the run's status file (read by the engine over SSH)."""
        if self.status_path is None:
            return
        current = self.read_json(self.status_path)      # another job of the run may have written it
        if isinstance(current, dict) and current.get("run_id") == self.status.get("run_id"):
            self.status = current
        self.status.update(fields)
        self.status["updated_at"] = iso(self.host.now())
        self.status["agent_version"] = VERSION
        self.write_json(self.status_path, self.status)
        if "message" in fields and fields["message"]:
            self.log("status %s %s: %s" % (self.status.get("state"), self.status.get("phase"), fields["message"]))

    def read_json(self, path):
        data = self.host.read_file(path)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.log("%s is not readable JSON" % path)
            return None

    def write_json(self, path, value):
        self.host.write_file(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    # ------------------------------------------------------------------ CL and SQL

    def cl(self, command, already=()):
        """Run COMMAND; (msg_id, text) of its last message. Raises ClFailed unless the escape is in ALREADY."""
        status, out, err = self.host.cl(command)
        found = messages_of(out, err)
        last = found[-1] if found else ("", "")
        if status == 0:
            self.log("> %s  [%s]" % (command, " ".join("%s %s" % m for m in found) or "ok"))
            return last
        escape = messages_of(err)
        msg_id, text = escape[-1] if escape else ("", (err or out).strip()[:300] or "exit status %d" % status)
        if msg_id and msg_id in already:
            self.log("> %s  [%s %s: already so]" % (command, msg_id, text))
            return (msg_id, text)
        self.log("> %s  FAILED %s %s" % (command, msg_id, text))
        raise ClFailed(command, msg_id, text)

    def try_cl(self, command):
        """Run COMMAND and report instead of raising: (ok, msg_id, text)."""
        try:
            msg_id, text = self.cl(command)
            return True, msg_id, text
        except ClFailed as failed:
            return False, failed.msg_id, failed.text

    def sql(self, statement, params=()):
        status, out, err = self.host.sql(statement, params)
        if status != 0:
            raise RuntimeError("SQL failed (%s): %s" % (statement, (err or out).strip()[:300]))
        return json.loads(out)["records"]

    def identity(self):
        rows = self.sql("SELECT HOST_NAME, PARTITION_ID, PARTITION_NAME, SERIAL_NUMBER FROM QSYS2.SYSTEM_STATUS_INFO")
        row = rows[0]
        return {"partition_id": int(str(row["PARTITION_ID"]).strip()),
                "partition_name": (row.get("PARTITION_NAME") or "").strip() or None,
                "serial_number": (row.get("SERIAL_NUMBER") or "").strip() or None,
                "host_name": (row.get("HOST_NAME") or "").strip()}

    def ipl_time(self):
        """When this IPL started (SCPF entered the system): tells one IPL from the next."""
        rows = self.sql("SELECT JOB_ENTERED_SYSTEM_TIME FROM TABLE(QSYS2.JOB_INFO(JOB_STATUS_FILTER => '*ACTIVE', "
                        "JOB_USER_FILTER => 'QSYS')) X WHERE JOB_NAME = '000000/QSYS/SCPF'")
        return str(rows[0]["JOB_ENTERED_SYSTEM_TIME"]) if rows else ""

    def system_value(self, name):
        rows = self.sql("SELECT CURRENT_CHARACTER_VALUE FROM QSYS2.SYSTEM_VALUE_INFO WHERE SYSTEM_VALUE_NAME = ?",
                        (name,))
        return (rows[0].get("CURRENT_CHARACTER_VALUE") or "") if rows else ""

    def active_subsystems(self):
        rows = self.sql("SELECT JOB_NAME_SHORT FROM TABLE(QSYS2.ACTIVE_JOB_INFO()) X WHERE JOB_TYPE = 'SBS'")
        return {str(r["JOB_NAME_SHORT"]).strip() for r in rows}

    def exists(self, obj, obj_type):
        return self.host.cl(cl_command("CHKOBJ", OBJ=obj, OBJTYPE=obj_type))[0] == 0

    def decide(self, action, why):
        """Tell the wrapper what to do (data area FLASH4I/FLSTRACT)."""
        self.log("decision %s: %s" % (action, why))
        self.try_cl(cl_command("CHGDTAARA", DTAARA=ACTION_AREA, VALUE=ClStr(action)))
        return EXIT_CHAIN if action == CHAIN else EXIT_HOLD

    def tell_operator(self, text):
        """A message to QSYSOPR and to the history log."""
        # a reason may quote a device's answer: its line breaks become spaces, so the message is sent
        text = ClStr(re.sub(r"[\x00-\x1f\x7f]", " ", "flash4i agent: " + text)[:500])
        self.try_cl(cl_command("SNDMSG", MSG=text, TOUSR="*SYSOPR"))
        self.try_cl(cl_command("SNDMSG", MSG=text, TOMSGQ="QSYS/QHST"))

    # ================================================================== at IPL

    def ipl(self):
        self.host.make_dirs(LOGS)
        ident = self.identity()
        self.log("IPL: partition %d (%s), system name %s, agent %s" % (
            ident["partition_id"], ident["partition_name"], ident["host_name"], VERSION))
        record = self.read_json(INSTALL_RECORD)
        if is_production(record, ident):
            return self.production_ipl(record)
        order, why = self.load_order(ident)
        if order is None:
            return self.restricted(why)
        return self.clone_ipl(order, ident)

    def production_ipl(self, record):
        """Production: nothing changes. TCP/IP as before the install, then the original startup program."""
        if str(record.get("strtcp_before", "*YES")).upper() == "*YES":
            ok, msg_id, text = self.try_cl("STRTCP")
            if not ok and msg_id not in ALREADY["STRTCP"]:
                self.tell_operator("production: STRTCP failed (%s %s)" % (msg_id, text))
        return self.decide(CHAIN, "production partition %s: chain to %s" % (
            record["production"]["partition_id"], record.get("original_startup_program")))

    def restricted(self, why, run_status=None):
        """Not production, no valid order: the controlling subsystem only, no TCP/IP, a message."""
        if run_status is not None:
            self.report(state="restricted", message=why, **run_status)
        self.try_cl("ENDTCP OPTION(*IMMED)")
        for name in sorted(self.active_subsystems() - {self.controlling()}):
            try:
                self.try_cl(cl_command("ENDSBS", SBS=name, OPTION="*IMMED"))
            except ClRefused as refused:        # nothing may stop the hold
                self.log(str(refused))
        self.tell_operator("kept in restricted state: %s" % why)
        return self.decide(HOLD, why)

    def controlling(self):
        value = self.system_value("QCTLSBSD").strip()
        return qualified(value).split("/")[-1] if value else "QCTL"

    # ------------------------------------------------------------------ the order

    def load_order(self, ident):
        """(order, "") when this partition holds a valid order, else (None, why)."""
        path = "%s/lpar%d.json" % (ORDERS, ident["partition_id"])
        order = self.read_json(path)
        if order is None:
            return None, "no clone order for partition %d (%s) and not the production partition" % (
                ident["partition_id"], path)
        why = order_problem(order, ident, self.host.now())
        if why:
            run_id = order.get("run_id") if isinstance(order.get("run_id"), int) else None
            if run_id and run_id > 0 and not (order.get("agent") or {}).get("consumed_at"):
                self.use_run(run_id)
                self.report(state="restricted", phase="REFUSED", message=why)
            return None, why
        order["_path"] = path
        return order, ""

    def save_order(self, order):
        path = order.pop("_path")
        self.write_json(path, order)
        order["_path"] = path

    def clone_ipl(self, order, ident):
        run_id = order["run_id"]
        self.use_run(run_id)
        agent = order.setdefault("agent", {})
        ipl = self.ipl_time()
        stage = agent.get("stage")
        if ipl and agent.get("ipl") == ipl:
            # the controlling subsystem was started again in this IPL (after a restricted-state save):
            # the agent already works here, the startup program does nothing more
            return self.decide(HOLD, "run %d: already handled in this IPL (stage %s)" % (run_id, stage))
        if stage is None:
            return self.first_ipl(order, ipl)
        if stage == "RESTARTING":
            return self.clone_up(order, ipl)
        why = "the order of run %d was already used (stage %s); a later IPL never replays it" % (run_id, stage)
        return self.restricted(why, {"phase": "REFUSED"})

    def set_stage(self, order, stage, ipl):
        order["agent"].update(stage=stage, ipl=ipl, at=iso(self.host.now()))
        self.save_order(order)

    def first_ipl(self, order, ipl):
        """First IPL of the clone: (*SAVE21: the save, as production), re-identify, restart."""
        fn = order["function"]
        self.log("run %d: clone order accepted (function %s, environment %s)" % (
            order["run_id"], fn, order.get("environment")))
        refused = identity_problem(order)
        if refused:
            return self.restricted(refused, {"phase": "REFUSED"})
        self.report(state="running", phase="ACCEPTED", progress=5, message="clone order accepted at the first IPL",
                    proof=self.proof(order))
        if fn == "*SAVE21":
            self.set_stage(order, "SAVING", ipl)
            self.save21(order)
        try:
            self.reidentify(order)
        except (ClFailed, RuntimeError) as exc:
            return self.restricted("re-identification failed: %s" % exc, {"phase": "REIDENTIFY"})
        self.set_stage(order, "RESTARTING", ipl)
        self.report(phase="RESTARTING", progress=max(self.status.get("progress") or 0, 30),
                    message="re-identified as %s; restarting" % order["clone"]["system_name"])
        self.decide(HOLD, "restarting")
        ok, msg_id, text = self.try_cl("PWRDWNSYS OPTION(*IMMED) RESTART(*YES) CONFIRM(*NO)")
        # PWRDWNSYS ends this job: getting here means the system did not go down
        return self.restricted("PWRDWNSYS did not restart the system%s" % ("" if ok else " (%s %s)" % (msg_id, text)),
                               {"phase": "RESTARTING"})

    def proof(self, order):
        """What the copy itself says about when it was taken, read before anything changes it: the
        order (written before the suspend) is here; the run's resumed marker (written after the
        resume) must not be. And how the system ended before this IPL (QABNORMSW: 1 = abnormal)."""
        marker = self.read_json(RESUMED_MARKER % (AGENT_DIR, order["clone"]["partition_id"])) or {}
        after = marker.get("run_id") == order["run_id"]
        abnormal = self.system_value("QABNORMSW").strip() == "1"
        proof = {"copy": "after_resume" if after else "in_window",
                 "previous_end": "abnormal" if abnormal else "normal"}
        wanted = order.get("proof") or {}
        if wanted.get("journals"):
            proof["journals"] = self.journal_sequences(wanted["journals"])
        if wanted.get("libraries"):
            proof["objects"] = dict((lib, self.object_count(lib)) for lib in wanted["libraries"])
        self.log("proof of the copy: %s" % json.dumps(proof, sort_keys=True))
        return proof

    def journal_sequences(self, journals):
        """LIB/JRN -> last sequence number of its attached receiver, as the engine reads production
        (devices/ibmi.py journal_sequences: the same statement [U: STATUS 'ATTACHED'])."""
        found = dict((str(j).upper(), None) for j in journals)
        try:
            rows = self.sql("SELECT JOURNAL_LIBRARY, JOURNAL_NAME, LAST_SEQUENCE_NUMBER FROM "
                            "QSYS2.JOURNAL_RECEIVER_INFO WHERE STATUS = ?", ("ATTACHED",))
        except (RuntimeError, ValueError, KeyError) as exc:
            self.log("journal markers not read: %s" % exc)
            return found
        for row in rows:
            name = ("%s/%s" % (row.get("JOURNAL_LIBRARY") or "", row.get("JOURNAL_NAME") or "")).upper()
            if name in found:
                try:
                    found[name] = int(str(row.get("LAST_SEQUENCE_NUMBER") or 0).strip())
                except ValueError:
                    found[name] = None
        return found

    def object_count(self, library):
        """How many objects LIBRARY holds (None: not readable), reported with the proof."""
        try:
            return len(self.sql("SELECT OBJNAME FROM TABLE(QSYS2.OBJECT_STATISTICS(?, '*ALL')) X", (library,)))
        except (RuntimeError, ValueError, KeyError) as exc:
            self.log("object count of %s not read: %s" % (library, exc))
            return None

    # ------------------------------------------------------------------ re-identification

    def reidentify(self, order):
        clone, hold = order["clone"], order.get("hold") or {}
        self.report(phase="REIDENTIFY", message="holding job schedules, changing name and interfaces")
        if hold.get("job_schedule_entries", True):
            if self.sql("SELECT SCHEDULED_JOB_ENTRY_NUMBER FROM QSYS2.SCHEDULED_JOB_INFO"):
                self.cl("HLDJOBSCDE JOB(*ALL) ENTRYNBR(*ALL)")
        if hold.get("advanced_job_scheduler", True):
            if self.exists("QSYS/QIJS", "*LIB"):
                self.cl("ENDJS OPTION(*MONITOR)")
            else:
                self.log("the Advanced Job Scheduler is not installed (no library QIJS)")
        self.cl(cl_command("CHGNETA", SYSNAME=clone["system_name"]))
        self.replace_interfaces(order)
        # the next IPL must run the agent again and start no address by itself
        if qualified(self.system_value("QSTRUPPGM")) != WRAPPER:
            self.cl(cl_command("CHGSYSVAL", SYSVAL="QSTRUPPGM", VALUE=ClStr(sysval_form(WRAPPER))))
        self.cl("CHGIPLA STRTCP(*NO)")

    def replace_interfaces(self, order):
        wanted = {i["address"]: i for i in order["clone"]["interfaces"]}
        rows = self.sql("SELECT INTERNET_ADDRESS, LINE_DESCRIPTION, INTERFACE_STATUS FROM QSYS2.NETSTAT_INTERFACE_INFO")
        for row in rows:
            address, line = row["INTERNET_ADDRESS"], (row.get("LINE_DESCRIPTION") or "")
            if line.startswith("*LOOPBACK") or address.startswith("127.") or address in wanted:
                continue
            if row.get("INTERFACE_STATUS") == "ACTIVE":
                self.cl(cl_command("ENDTCPIFC", INTNETADR=ClStr(address)))
            self.cl(cl_command("RMVTCPIFC", INTNETADR=ClStr(address)))
        present = {r["INTERNET_ADDRESS"] for r in rows}
        for address, iface in sorted(wanted.items()):
            if address in present:
                self.cl(cl_command("CHGTCPIFC", INTNETADR=ClStr(address), AUTOSTART="*YES"))
            else:
                self.cl(cl_command("ADDTCPIFC", INTNETADR=ClStr(address), LIND=iface["line"],
                                   SUBNETMASK=ClStr(iface["subnet_mask"]), AUTOSTART="*YES"), ALREADY["ADDTCPIFC"])
        route = order["clone"].get("default_route")
        if route:
            self.cl(cl_command("ADDTCPRTE", RTEDEST="*DFTROUTE", SUBNETMASK="*NONE", NEXTHOP=ClStr(route)),
                    ALREADY["ADDTCPRTE"])

    # ------------------------------------------------------------------ after the restart

    def clone_up(self, order, ipl):
        """The restarted clone: its own name and addresses, what the function needs, the function."""
        ident = self.identity()
        expected = order["clone"]["system_name"]
        order["agent"].update(consumed_at=iso(self.host.now()))
        self.set_stage(order, "RUNNING", ipl)
        if ident["host_name"] != expected:
            return self.restricted("the system name is %s, not %s: TCP/IP is not started" % (
                ident["host_name"], expected), {"phase": "START"})
        try:
            self.start_services(order)
        except (ClFailed, RuntimeError) as exc:
            return self.restricted("starting the clone's services failed: %s" % exc, {"phase": "START"})
        fn = order["function"]
        if fn in ("*BRMS", "*USER"):
            try:
                job = self.submit_function(order)
            except ClFailed as exc:
                self.report(state="failed", phase="SUBMIT", message="the function job was not submitted: %s" % exc)
                return self.decide(HOLD, "function job not submitted")
            self.report(phase="FUNCTION", progress=40, function_job=job,
                        message="function %s submitted as job %s" % (fn, job))
        elif fn == "*SAVE21":
            saved = order["agent"].get("result") or {}
            self.report(state=saved.get("state", "failed"), phase="DONE", progress=100,
                        message=saved.get("message", "the save result is missing"))
        else:
            self.report(state="succeeded", phase="DONE", progress=100,
                        message="clone up as %s (function *NONE)" % expected)
        return self.decide(HOLD, "clone %s up for run %d (function %s); nothing else is started" % (
            expected, order["run_id"], fn))

    def start_services(self, order):
        refused = identity_problem(order)
        if refused:
            raise RuntimeError(refused)
        addresses = [i["address"] for i in order["clone"]["interfaces"]]
        active = self.active_subsystems()
        for name in order.get("start_subsystems") or CLONE_SUBSYSTEMS:
            if name not in active:
                self.cl(cl_command("STRSBS", SBSD=name), ALREADY["STRSBS"])
        # only the clone's own interfaces, and only the SSH server (the engine reads status and logs)
        self.cl("STRTCP STRSVR(*NO) STRIFC(*NO)", ALREADY["STRTCP"])
        for address in addresses:
            self.cl(cl_command("STRTCPIFC", INTNETADR=ClStr(address)), ALREADY["STRTCPIFC"])
        self.cl("STRTCPSVR SERVER(*SSHD)")
        self.report(phase="STARTED", progress=35,
                    message="clone up as %s on %s" % (order["clone"]["system_name"], ", ".join(addresses)))

    def submit_function(self, order):
        command = cl_command("QSH", CMD=ClStr("%s %s function %d" % (PYTHON, AGENT_FILE, order["run_id"])))
        msg_id, text = self.cl(cl_command("SBMJOB", CMD=command, JOB=FUNCTION_JOB_NAME,
                                          JOBQ=order.get("function_job_queue") or FUNCTION_JOB_QUEUE))
        match = JOB.search(text)
        return match.group(1) if match else ""

    # ================================================================== the functions

    def function_job(self, run_id):
        """The submitted job of *BRMS and *USER."""
        ident = self.identity()
        path = "%s/lpar%d.json" % (ORDERS, ident["partition_id"])
        order = self.read_json(path)
        if not order or order.get("run_id") != run_id or (order.get("agent") or {}).get("stage") != "RUNNING":
            self.log("function %d: no running order of that run on partition %d" % (run_id, ident["partition_id"]))
            return EXIT_ERROR
        order["_path"] = path
        self.use_run(run_id)
        fn = order["function"]
        self.report(state="running", phase="FUNCTION", function_job=self.status.get("function_job") or
                    self.host.job_name(), message="function %s started" % fn)
        try:
            if fn == "*BRMS":
                state, message = self.brms(order)
            elif fn == "*USER":
                state, message = self.user(order)
            else:
                state, message = "failed", "function %s does not run in a submitted job" % fn
        except Exception as exc:          # a bug must still end in a status the engine can read
            self.log(traceback.format_exc())
            state, message = "failed", "%s: %s" % (type(exc).__name__, exc)
        self.report(state=state, phase="DONE", progress=100, message=message)
        return 0 if state == "succeeded" else EXIT_ERROR

    def run_list(self, commands, first, last):
        """Run COMMANDS in order, each result recorded; stop at the first failure. (ok, results)."""
        results = []
        for number, command in enumerate(commands, start=1):
            ok, msg_id, text = self.try_cl(command)
            results.append({"command": command, "ok": ok, "msg_id": msg_id, "text": text})
            self.report(commands=results, progress=first + (last - first) * number // max(1, len(commands)),
                        message="%d of %d: %s" % (number, len(commands), command))
            if not ok:
                return False, results
        return True, results

    def user(self, order):
        user = order.get("user") or {}
        commands = list(user.get("commands") or [])
        if user.get("program"):
            commands.append(cl_command("CALL", PGM=user["program"]))
        ok, results = self.run_list(commands, 45, 95)
        if ok:
            return "succeeded", "%d user commands ran on %s" % (len(results), order["clone"]["system_name"])
        bad = results[-1]
        return "failed", "user command %d of %d failed: %s (%s %s)" % (
            len(results), len(commands), bad["command"], bad["msg_id"], bad["text"])

    def brms(self, order):
        brms = order.get("brms") or {}
        option = brms.get("option") or "*FLASHCOPY"
        groups = list(brms.get("control_groups") or [])
        steps = [cl_command("INZBRM", OPTION=option, STATE=brms.get("state_start_backup") or "*STRBKU")]
        steps += [cl_command("STRBKUBRM", CTLGRP=group, SBMJOB="*NO") for group in groups]
        steps += [cl_command("INZBRM", OPTION=option, STATE=brms.get("state_end_backup") or "*ENDBKU")]
        ok, results = self.run_list(steps, 45, 85)
        if not ok:
            bad = results[-1]
            return "failed", "BRMS: %s failed (%s %s)" % (bad["command"], bad["msg_id"], bad["text"])
        lib, _, savf = (brms.get("save_file") or "FLASH4I/QUSRBRM").partition("/")
        save_file = "%s/%s" % (lib, savf)
        self.cl(cl_command("CRTLIB", LIB=lib), ALREADY["CRTLIB"])
        if not self.exists(save_file, "*FILE"):
            self.cl(cl_command("CRTSAVF", FILE=save_file), ALREADY["CRTSAVF"])
        self.cl(cl_command("CLRSAVF", FILE=save_file))
        self.cl(cl_command("SAVLIB", LIB="QUSRBRM", DEV="*SAVF", SAVF=save_file,
                           OMITOBJ=[("*ALL", "*JRN"), ("*ALL", "*JRNRCV")]))
        self.report(brms_save_file="%s/%s" % (lib, savf), progress=95)
        return "succeeded", "BRMS control groups %s saved; QUSRBRM in save file %s/%s" % (
            ", ".join(groups), lib, savf)

    def save21(self, order):
        """The full-system save, in restricted state, as production (identity unchanged)."""
        commands = list((order.get("save21") or {}).get("commands") or [])
        self.report(phase="SAVE", progress=10, function_job=self.host.job_name(),
                    message="SAVE 21 as %s: %d commands" % (self.identity()["host_name"], len(commands)))
        ok, results = self.run_list(commands, 10, 25)
        if ok:
            result = {"state": "succeeded", "message": "SAVE 21: %d commands completed" % len(results)}
        else:
            bad = results[-1]
            result = {"state": "failed", "message": "SAVE 21: %s failed (%s %s)" % (
                bad["command"], bad["msg_id"], bad["text"])}
        order["agent"]["result"] = result
        self.set_stage(order, "SAVED", order["agent"].get("ipl"))
        self.log(result["message"])

    # ================================================================== self-check

    def check(self):
        """The installation as this partition sees it (JSON on stdout)."""
        problems = []
        ident = self.identity()
        record = self.read_json(INSTALL_RECORD)
        if not isinstance(record, dict):
            problems.append("install record %s is missing" % INSTALL_RECORD)
            record = {}
        elif not is_production(record, ident):
            problems.append("this partition (%d) is not the production partition of the install record (%s)" % (
                ident["partition_id"], (record.get("production") or {}).get("partition_id")))
        startup = qualified(self.system_value("QSTRUPPGM"))
        if startup != WRAPPER:
            problems.append("QSTRUPPGM is %s, not the wrapper %s" % (startup, WRAPPER))
        for obj, obj_type in ((WRAPPER, "*PGM"), (ACTION_AREA, "*DTAARA"), (ORIGINAL_AREA, "*DTAARA")):
            if not self.exists(obj, obj_type):
                problems.append("%s %s is missing" % (obj_type, obj))
        if record and str(record.get("strtcp_set", "")).upper() != "*NO":
            problems.append("the install record does not show the IPL attribute STRTCP(*NO)")
        print(json.dumps({"version": VERSION, "identity": ident, "production": is_production(record, ident),
                          "startup_program": startup, "install": record, "problems": problems}, sort_keys=True))
        return 0 if not problems else EXIT_ERROR


# ====================================================================== decisions without I/O


def is_production(record, ident):
    """Production is the partition id and serial recorded at install (a clone elsewhere may share the id)."""
    if not isinstance(record, dict):
        return False
    prod = record.get("production") or {}
    if prod.get("partition_id") != ident["partition_id"]:
        return False
    serial = prod.get("serial_number")
    return not serial or not ident.get("serial_number") or serial == ident["serial_number"]


def identity_problem(order):
    """Why the clone identity of ORDER would look like production ('' when it does not)."""
    source, clone = order.get("source") or {}, order["clone"]
    production = {a for a in [source.get("address")] + list(source.get("addresses") or []) if a}
    clash = sorted(i["address"] for i in clone["interfaces"] if i["address"] in production)
    if clash:
        return "the clone order names production's address %s as a clone interface: refused" % ", ".join(clash)
    if source.get("system_name") and clone["system_name"].upper() == str(source["system_name"]).upper():
        return "the clone order names production's system name %s for the clone: refused" % clone["system_name"]
    return ""


def order_problem(order, ident, now):
    """Why ORDER is not valid for this partition now ('' when it is)."""
    if not isinstance(order, dict) or order.get("version") != ORDER_VERSION:
        return "the clone order is not a version %d order" % ORDER_VERSION
    run_id = order.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id <= 0:
        return "the clone order has no run id"
    clone = order.get("clone") or {}
    if clone.get("partition_id") != ident["partition_id"]:
        return "the clone order is for partition %s, this is partition %d" % (
            clone.get("partition_id"), ident["partition_id"])
    if ident.get("partition_name") and clone.get("lpar_name") and clone["lpar_name"] != ident["partition_name"]:
        return "the clone order is for partition %s, this is partition %s" % (
            clone["lpar_name"], ident["partition_name"])
    if order.get("function") not in FUNCTIONS:
        return "the clone order names an unknown function %r" % order.get("function")
    try:
        expires = parse_time(order["expires_at"])
    except (KeyError, ValueError, TypeError):
        return "the clone order of run %d has no valid expiry" % run_id
    # the expiry guards the first IPL only: a long save may end after it, and the restart must still work
    if now > expires and not (order.get("agent") or {}).get("stage"):
        return "the clone order of run %d expired at %s" % (run_id, iso(expires))
    if not clone.get("system_name") or not isinstance(clone.get("interfaces"), list):
        return "the clone order of run %d has no clone identity" % run_id
    bad = unsafe_values(order)
    if bad:
        return "the clone order of run %d holds %s: refused" % (run_id, bad)
    return ""


IBMI_NAME = re.compile(r"[A-Z$#@][A-Z0-9$#@_]{0,9}")
SYSTEM_NAME = re.compile(r"[A-Z][A-Z0-9]{0,7}")
SPECIAL_VALUE = re.compile(r"\*[A-Z0-9]{1,10}")


def unsafe_values(order):
    """The first value of ORDER that must not reach a CL command line ('' when all are safe).

    The engine validated them already; the order is a file on the source's IFS, so the agent
    checks again before it builds CL from it."""
    clone = order["clone"]
    if not SYSTEM_NAME.fullmatch(str(clone.get("system_name"))):
        return "an invalid system name %r" % clone.get("system_name")
    addresses = [clone.get("default_route")] if clone.get("default_route") else []
    for iface in clone["interfaces"]:
        if not isinstance(iface, dict) or not IBMI_NAME.fullmatch(str(iface.get("line"))):
            return "an invalid interface %r" % (iface,)
        addresses += [iface.get("address"), iface.get("subnet_mask")]
    for address in addresses:
        try:
            ipaddress.IPv4Address(str(address))
        except ValueError:
            return "an invalid address %r" % (address,)
    brms = order.get("brms") or {}
    names = list(brms.get("control_groups") or []) + [p for p in str(brms.get("save_file", "")).split("/") if p]
    for name in names:
        if not IBMI_NAME.fullmatch(str(name)):
            return "an invalid name %r" % (name,)
    for key in ("option", "state_start_backup", "state_end_backup"):
        if key in brms and not SPECIAL_VALUE.fullmatch(str(brms[key])):
            return "an invalid BRMS value %r" % (brms[key],)
    return ""


# ====================================================================== entry point


def main(argv=None, host=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print("flash4i agent %s" % VERSION)
        return 0
    agent = Agent(host or PaseHost())
    if argv[:1] == ["ipl"]:
        try:
            return agent.ipl()
        except Exception as exc:        # the wrapper then holds the system (FLSTRACT stays *UNKNOWN)
            agent.log("IPL failed: %s\n%s" % (exc, traceback.format_exc()))
            print("flash4i agent: %s" % exc, file=sys.stderr)
            try:
                agent.report(state="failed", message="the agent failed at IPL: %s: %s" % (type(exc).__name__, exc))
            except Exception:
                pass                    # the failure is in the log; the wrapper holds the system
            return EXIT_ERROR
    if argv[:1] == ["function"] and len(argv) == 2 and argv[1].isdigit():
        return agent.function_job(int(argv[1]))
    if argv[:1] == ["check"]:
        return agent.check()
    print("usage: flash4i_agent.py ipl | function RUNID | check | --version", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
