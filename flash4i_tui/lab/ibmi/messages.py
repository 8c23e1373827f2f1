"""Every message the simulated IBM i sends, in one table.

Ids marked VERIFIED appear word for word in `reference/ibmi.md` (real captures or IBM
documentation); every other id and text is a best guess [U] and may be corrected here without
touching the code that sends it. Texts use `str.format` fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

# The messages the reference confirms; everything else in CATALOGUE is unverified [U].
VERIFIED = frozenset({"CPF2111", "CPF9801", "CPC2102", "CPF1124", "CPF1164", "CPA4067", "CPF1054",
                      "QSH0005", "CPF0006", "CPD0030", "CPD0043"})

# id -> (severity, text)
CATALOGUE: Dict[str, Tuple[int, str]] = {
    # ---- command analysis
    "CPD0030": (30, "Command {cmd} in library {lib} not found."),
    "CPF0006": (30, "Errors occurred in command."),
    "CPD0043": (30, "Keyword {kw} not valid for this command."),
    "CPD0031": (30, "Command {cmd} not allowed in this setting."),
    "CPD0071": (30, "Parameter {kw} required."),                                   # [U]
    "CPD0074": (30, "Positional value exceeds positional limit allowed."),         # [U]
    "CPD0072": (30, "Positional value {value} follows a keyword parameter."),      # [U]
    "CPD0040": (30, "Keyword {kw} appears more than once."),                       # [U]
    "CPD0084": (30, "Value '{value}' for parameter {kw} not a valid special value."),  # [U]
    "CPD0078": (30, "Value '{value}' for parameter {kw} not a valid name."),       # [U]
    "CPD0075": (30, "Value '{value}' for parameter {kw} not a valid number."),     # [U]
    "CPD0076": (30, "Value '{value}' for parameter {kw} longer than {max} characters."),  # [U]
    "CPD0085": (30, "Too many values specified for parameter {kw}."),              # [U]
    "CPD0086": (30, "Value '{value}' for parameter {kw} is outside the range {low} to {high}."),  # [U]
    "CPD0013": (30, "Parentheses not balanced."),                                  # [U]
    "CPD0014": (30, "Quoted string not ended."),                                   # [U]
    "CPD0012": (30, "Value '{value}' not valid for parameter {kw}."),              # [U]
    # ---- objects and libraries
    "CPF9801": (40, "Object {obj} in library {lib} not found."),
    "CPF9810": (40, "Library {lib} not found."),                                   # [U]
    "CPF2110": (40, "Library {lib} not found."),                                   # [U]
    "CPF2111": (40, "Library {lib} already exists."),
    "CPC2102": (0, "Library {lib} created."),
    "CPC2194": (0, "Library {lib} deleted."),                                      # [U]
    "CPF2105": (40, "Object {obj} in {lib} type {type} not found."),               # [U]
    "CPF1015": (40, "Data area {obj} in {lib} not found."),                        # [U]
    "CPF1023": (40, "Data area {obj} exists in {lib}."),                           # [U]
    "CPC0904": (0, "Data area {obj} created in library {lib}."),                   # [U]
    "CPF1063": (40, "Value for data area {obj} in {lib} longer than {max} characters."),  # [U]
    "CPF3142": (40, "File {file} in library {lib} not found."),                    # [U]
    "CPC3101": (0, "Member {mbr} file {file} in {lib} cleared."),                 # [U]
    "CPF5813": (40, "File {file} in library {lib} already exists."),               # [U]
    "CPC9801": (0, "Object {obj} type *FILE created in library {lib}."),           # [U]
    "CPC3710": (0, "Save file {file} in {lib} cleared."),                          # [U]
    "CPF3782": (40, "File {file} in {lib} not a save file."),                      # [U]
    "CPA4067": (99, "Save file {file} in {lib} already contains data. (C G)"),
    "CPF3797": (40, "Objects from library {lib} not saved. Save file {file} in {lib2} not cleared."),  # [U]
    "CPFA0A9": (40, "Object not found.  Object is {path}."),                       # [U]
    # ---- programs
    "CPD0170": (30, "Program {pgm} in library {lib} not found."),                  # [U]
    "CPF0001": (40, "Error found on {cmd} command."),                              # [U]
    "CPC5D07": (0, "Program {pgm} created in library {lib}."),                     # [U]
    "CPF0C33": (40, "Program {pgm} not created in library {lib}: {reason}"),       # [U]
    "CPF0864": (40, "End of file detected for CL program {pgm}."),                 # [U]
    "CPF9999": (40, "Function check. {msg} unmonitored by {pgm} at statement {stmt}, instruction X'0000'."),  # [U]
    "CPF0812": (40, "Variable {var} not declared in program {pgm}."),              # [U]
    "CPF0818": (40, "Value '{value}' not valid for variable {var}."),              # [U]
    "QSH0005": (0, "Command ended normally with exit status {status}."),
    # ---- jobs and subsystems
    "CPC1221": (0, "Job {job} submitted to job queue {jobq} in library {lib}."),    # [U]
    "CPF1124": (0, "Job {job} started on {date} at {time} in subsystem {sbs} in QSYS. "
                   "Job entered system on {date} at {time}."),
    "CPF1164": (0, "Job {job} ended on {date} at {time}; {cpu} seconds used; end code {code} ."),
    "CPF1338": (40, "Errors occurred on SBMJOB command."),                         # [U]
    "CPF1010": (40, "Subsystem {sbs} active."),                                    # [U]
    "CPF1054": (40, "No subsystem {sbs} active."),
    "CPC1202": (0, "Subsystem {sbs} started."),                                    # [U]
    "CPC1206": (0, "Subsystem {sbs} ended."),                                      # [U]
    "CPF1034": (0, "All subsystems ending with *{option} option."),                # [U]
    "CPF0968": (0, "System ended to restricted condition."),                       # [U]
    "CPC1125": (0, "Job {job} was ended by {by}."),                                # [U]
    "CPF1003": (40, "Subsystem {sbs} not started: subsystem description not found."),  # [U]
    "CPF1095": (40, "Restricted state cannot be entered from job {job}: not in the controlling subsystem."),  # [U] not sent (see ENDSBS)
    # ---- system values, network and IPL attributes
    "CPF1028": (40, "System value {sysval} not valid."),                           # [U]
    "CPF1030": (40, "System value {sysval} cannot be changed."),                   # [U]
    "CPF1806": (0, "System value {sysval} changed from '{old}' to '{new}'."),      # [U]
    "CPF1854": (40, "Value '{value}' for system value {sysval} not valid."),       # [U]
    "CPC1A01": (0, "Network attributes changed."),                                 # [U]
    "CPI0994": (0, "Pending system name {name} will become the system name at the next IPL."),  # [U]
    "CPC1D01": (0, "IPL attributes changed."),                                     # [U]
    # ---- TCP/IP
    "TCP1A1F": (0, "TCP/IP started."),                                             # [U]
    "TCP1A12": (40, "TCP/IP already active."),                                     # [U]
    "TCP1A77": (0, "TCP/IP ending."),                                              # [U]
    "TCP1A13": (40, "TCP/IP not active."),                                         # [U]
    "TCP1D03": (0, "Interface {addr} started."),                                   # [U]
    "TCP1D04": (0, "Interface {addr} ended."),                                     # [U]
    "TCP1D05": (40, "Interface {addr} already active."),                           # [U]
    "TCP1D06": (40, "Interface {addr} not active."),                               # [U]
    "TCP8A1F": (40, "Interface {addr} not started: the address is already active on the network."),  # [U]
    "TCP1D07": (40, "Interface {addr} not found."),                                # [U]
    "TCP1D08": (40, "Interface {addr} already exists."),                           # [U]
    "TCP1D09": (40, "Interface {addr} is active; end it before removing it."),     # [U]
    "TCP1D10": (0, "Interface {addr} added."),                                     # [U]
    "TCP1D11": (0, "Interface {addr} removed."),                                   # [U]
    "TCP1D12": (0, "Interface {addr} changed."),                                   # [U]
    "CPF2634": (40, "Line description {line} not found."),                         # [U]
    "TCP1D13": (0, "Route added."),                                                # [U]
    "TCP1D14": (40, "Route already exists."),                                      # [U]
    "TCP1A0A": (0, "{server} server started."),                                    # [U]
    "TCP1A0B": (0, "{server} server ended."),                                      # [U]
    # ---- job schedule entries and the Advanced Job Scheduler
    "CPC1239": (0, "Job schedule entry {name} number {number} held."),             # [U]
    "CPC1240": (0, "Job schedule entry {name} number {number} released."),         # [U]
    "CPF1629": (40, "Job schedule entry {name} number {number} not found."),       # [U]
    "CPF1628": (40, "More than one job schedule entry {name} found; specify ENTRYNBR."),  # [U]
    "CPF1637": (40, "ENTRYNBR(*ALL) must be specified with JOB(*ALL)."),           # [U]
    "CPC1241": (0, "Job scheduler held."),                                          # [U] 7.5 JOB(*JOBSCD)
    "CPC1242": (0, "Job scheduler released."),                                      # [U]
    "IJS0001": (0, "Job Scheduler monitor ended."),                                # [U]
    "IJS0002": (0, "Job Scheduler monitor started."),                              # [U]
    "IJS0003": (10, "Job Scheduler monitor not active."),                          # [U]
    # ---- CHGASPACT (no id is confirmed by the reference: all [U], see runtime.AspActivity)
    "CPCB717": (0, "ASP {asp} operation {option} completed."),                     # [U]
    "CPFB718": (40, "ASP {asp} not suspended: activity did not reach a boundary within {timeout} seconds."),  # [U]
    "CPIB719": (10, "ASP {asp} suspended; some transactions did not reach a boundary within {timeout} seconds."),  # [U]
    "CPFB71A": (40, "ASP {asp} not suspended."),                                   # [U]
    "CPFB71B": (40, "ASP {asp} already suspended."),                               # [U]
    "CPIB71C": (0, "ASP {asp} resumed automatically: suspend time-out of {timeout} seconds ended."),  # [U]
    "CPIB71D": (0, "ASP {asp} activity suspended."),                               # [U]
    "CPIB71E": (0, "ASP {asp} activity resumed."),                                 # [U]
    "CPFB71F": (40, "ASP device {asp} not found."),                                # [U]
    # ---- saves and restores
    "CPF3785": (40, "Not all subsystems ended."),                                  # [U] restricted state needed
    "CPC3722": (0, "{count} objects saved from library {lib}."),                   # [U]
    "CPF3781": (40, "Library {lib} not found."),                                   # [U]
    "CPC3701": (0, "{count} objects saved."),                                      # [U] SAVSYS / SAV / SAVDLO
    "CPC3703": (0, "{count} objects restored from {lib} to {tolib}."),             # [U]
    "CPF3780": (40, "Specified file for library {lib} not found in save file {file} in {savlib}."),  # [U]
    "CPF3743": (40, "File cannot be restored, displayed, or listed: save file {file} in {lib} is empty."),  # [U]
    "CPF9814": (40, "Device {dev} not found."),                                    # [U]
    # ---- BRMS [U]
    "BRM1A01": (0, "BRMS FlashCopy state changed from {old} to {new}."),           # [U]
    "BRM1A02": (40, "BRMS FlashCopy state {new} not allowed when the current state is {old}."),  # [U]
    "BRM1A03": (40, "BRMS activity is stopped: FlashCopy state is {state}."),      # [U]
    "BRM1142": (40, "Control group {grp} type *BKU not found."),                   # [U]
    "BRM15A1": (0, "Control group {grp} type *BKU processing started."),           # [U]
    "BRM15A2": (0, "Control group {grp} type *BKU completed."),                    # [U]
    "BRM15A3": (40, "Control group {grp} type *BKU completed with errors."),       # [U]
    "BRM15A4": (40, "Backups in batch restricted state are not allowed by the BRMS system policy."),  # [U]
    "BRM15A5": (40, "Control group {grp} needs restricted state; use SBMJOB(*CTLSBS)."),  # [U]
    "BRM1A04": (0, "BRMS system name set to {name}."),                             # [U]
    # ---- power down, IPL and recovery [U]
    "CPF0990": (0, "Power down system started with OPTION(*{option}) RESTART(*{restart})."),  # [U]
    "CPI0990": (40, "Previous system ending was abnormal."),                       # [U]
    "CPI0991": (10, "Recovery of database objects after an abnormal end in progress."),  # [U]
    "CPI0992": (10, "Journal recovery completed after abnormal end."),             # [U]
    "CPI0993": (0, "IPL of partition {partition} (id {id}) completed; system {name}."),  # [U]
    "CPI0995": (10, "Abnormal IPL after a copy taken without suspend: main storage had been written."),  # [U]
    "CPI0996": (0, "System name changed from {old} to {new} at IPL."),             # [U]
    "CPI0997": (40, "Startup program {pgm} in {lib} not found."),                  # [U]
    "CPI0998": (40, "System name {name} is already used by another system on the network."),  # [U]
    # ---- messages sent by users
    "CPF2469": (40, "Error occurred when sending message {text}."),                # [U]
    "CPF2204": (40, "User profile {user} not found."),                             # [U]
    # ---- the lab's own honest refusal for real commands or options it does not simulate
    "LAB0001": (40, "{what} is not simulated by the flash4i lab."),
}


@dataclass(frozen=True)
class Msg:
    """One message as sent: id, severity, text."""

    msg_id: str
    severity: int
    text: str

    def line(self) -> str:
        return f"{self.msg_id}: {self.text}"


def msg(msg_id: str, **fields: object) -> Msg:
    """The message MSG_ID with its fields filled in."""
    severity, template = CATALOGUE[msg_id]
    return Msg(msg_id, severity, template.format(**{k: ("" if v is None else v) for k, v in fields.items()}))


class ClEscape(Exception):
    """An escape message ends the command; DIAGNOSTICS were sent before it."""

    def __init__(self, escape: Msg, diagnostics: Tuple[Msg, ...] = ()):
        self.escape = escape
        self.diagnostics = tuple(diagnostics)
        self.logged_in: object = None       # the job whose log already holds it
        super().__init__(escape.line())

    @property
    def msg_id(self) -> str:
        return self.escape.msg_id


def escape(msg_id: str, diagnostics: Tuple[Msg, ...] = (), **fields: object) -> ClEscape:
    return ClEscape(msg(msg_id, **fields), diagnostics)


def command_error(*diagnostics: Msg) -> ClEscape:
    """A command that could not be analysed: its diagnostics, then CPF0006."""
    return ClEscape(msg("CPF0006"), tuple(diagnostics))
