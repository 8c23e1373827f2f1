"""The environment editor: Create (F6), Change (2), Copy (3) and Display (5) of WRKFLENV.

A prompt panel with dot leaders. Enter validates the whole panel with the configuration
schema (`validate_environment`) against the rest of the store; each bad field is shown in
reverse image with its message on the message line, and nothing is written until every
field is valid. Then `save_environment` runs in one write transaction.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from .fmt import leader
from .layout import Column, Row
from .panel import DisplayPanel, EXIT, Panel, SelectPanel
from .theme import HEADING_STYLE
from .widgets import Field, PromptRow

FUNCTIONS = ("*NONE", "*BRMS", "*SAVE21", "*USER")
COPY_MODES = ("space_efficient", "full")
ATTACH_TYPES = ("npiv", "vscsi")
QUIESCE_ACTIONS = ("*END", "*CONT")
YES_NO = ("*YES", "*NO")


@dataclass(frozen=True)
class EnvField:
    path: str                    # dotted path in the configuration record ("copy.rate"); "" for a list item
    label: str
    width: int
    kind: str = "text"           # text | upper | int | bool | choice | names | list (blank-separated; names in capitals)
    choices: Tuple[str, ...] = ()
    ref: str = ""                # F4 list: partitions | storage
    nullable: bool = False       # blank means "not set" (None)
    hint: str = ""
    max_length: int = 0


@dataclass(frozen=True)
class EnvGroup:
    """A repeating sub-list (volume pairs, interfaces, commands): one line per entry, one blank line to add."""
    path: str
    label: str
    parts: Tuple[EnvField, ...]


@dataclass(frozen=True)
class Section:
    label: str


Item = Any   # EnvField | EnvGroup | Section

ITEMS: Tuple[Item, ...] = (
    EnvField("name", "Environment name", 10, "upper", hint="Name"),
    EnvField("description", "Text 'description'", 40, max_length=200),
    EnvField("function", "Function", 7, "choice", FUNCTIONS, hint=", ".join(FUNCTIONS)),
    Section("Partitions and storage"),
    EnvField("source", "Source partition", 10, "upper", ref="partitions", hint="Name, F4 for list"),
    EnvField("clone", "Clone partition", 10, "upper", ref="partitions", hint="Name, F4 for list"),
    EnvField("storage", "Storage system", 10, "upper", ref="storage", hint="Name, F4 for list"),
    EnvField("consistency_group", "Consistency group", 15),
    EnvField("copy.mode", "Copy mode", 15, "choice", COPY_MODES, hint="space_efficient, full"),
    EnvField("copy.rate", "Background copy rate", 3, "int", hint="0-150"),
    EnvGroup("volumes", "Volume pairs", (EnvField("source", "Source volume", 20),
                                         EnvField("target", "Target", 20))),
    EnvField("attach.type", "Attachment", 5, "choice", ATTACH_TYPES, hint="npiv, vscsi"),
    EnvField("attach.vios", "VIOS partition", 20, nullable=True, hint="vSCSI only"),
    EnvField("attach.vhost", "VIOS server adapter", 15, nullable=True, hint="vSCSI only"),
    EnvField("attach.storage_hosts", "VIOS host objects on storage", 30, "list", hint="vSCSI"),
    Section("Quiesce of production"),
    EnvField("quiesce.timeout", "Suspend timeout (seconds)", 4, "int", hint="1-3600"),
    EnvField("quiesce.action", "Timeout action", 5, "choice", QUIESCE_ACTIONS, hint="*END, *CONT"),
    Section("Clone identity"),
    EnvField("clone_identity.system_name", "System name", 8, "upper", hint="Name"),
    EnvGroup("clone_identity.interfaces", "Interfaces", (EnvField("address", "Address", 15),
                                                         EnvField("subnet_mask", "Mask", 15),
                                                         EnvField("line", "Line", 10, "upper"))),
    EnvField("clone_identity.default_route", "Default route", 15, nullable=True, hint="Address"),
    EnvField("clone_identity.hold_job_schedules", "Hold job schedule entries", 4, "bool", YES_NO,
             hint="*YES, *NO"),
    EnvField("clone_identity.end_job_scheduler", "End job scheduler", 4, "bool", YES_NO, hint="*YES, *NO"),
    Section("Function"),
    EnvField("brms.control_groups", "BRMS control groups", 40, "names", hint=""),
    EnvGroup("save21.commands", "SAVE 21 commands", (EnvField("", "Command", 58, max_length=6000),)),
    EnvGroup("user.commands", "User commands", (EnvField("", "Command", 58, max_length=6000),)),
    EnvField("user.program", "User program", 21, "upper", nullable=True, hint="Library/program"),
    Section("Schedule and limits"),
    EnvField("schedule", "Schedule (cron)", 20, nullable=True, hint="min hour day month weekday"),
    EnvField("stop_clone_after", "Stop clone after the run", 4, "bool", YES_NO, hint="*YES, *NO"),
    EnvField("ipl_timeout", "IPL timeout (seconds)", 5, "int", hint="60-86400"),
    EnvField("log_retention_days", "Keep logs (days)", 4, "int", hint="1-3650"),
)

NEW_ENVIRONMENT: Dict[str, Any] = {
    "name": "", "description": "", "function": "*NONE", "source": "", "clone": "", "storage": "",
    "consistency_group": "", "copy": {"mode": "space_efficient", "rate": 0}, "volumes": [],
    "attach": {"type": "npiv", "vios": None, "vhost": None}, "quiesce": {"timeout": 60, "action": "*END"},
    "clone_identity": {"system_name": "", "interfaces": [], "default_route": None,
                       "hold_job_schedules": True, "end_job_scheduler": True},
    "brms": None, "save21": None, "user": None, "schedule": None, "stop_clone_after": False,
    "ipl_timeout": 4 * 3600, "log_retention_days": 30,
}

# A problem about a whole section is shown on the field an operator fills to fix it.
ALIASES = {"brms": "brms.control_groups", "user": "user.commands", "save21": "save21.commands",
           "copy": "copy.mode", "attach": "attach.type", "quiesce": "quiesce.timeout",
           "clone_identity": "clone_identity.system_name"}


# ------------------------------------------------------------------ record <-> text

def get_path(record: Dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def set_path(record: Dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = record
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value


def to_text(f: EnvField, value: Any) -> str:
    if value is None:
        return ""
    if f.kind == "bool" and isinstance(value, bool):
        return "*YES" if value else "*NO"
    if f.kind in ("names", "list") and isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def from_text(f: EnvField, text: str) -> Any:
    """The typed text as the configuration value; anything odd is passed on for the schema to name."""
    text = text.strip()
    if f.kind in ("upper", "bool"):
        text = text.upper()
    if f.kind == "choice":      # *brms -> *BRMS, FULL -> full: the spelling of the listed value
        text = next((c for c in f.choices if c.upper() == text.upper()), text)
    if not text and f.nullable:
        return None
    if f.kind == "int":
        # ASCII digits only, and not thousands of them (int() refuses '²' and, on 3.11, 4301 digits)
        return int(text) if re.fullmatch(r"-?[0-9]{1,30}", text) else text
    if f.kind == "bool":
        return {"*YES": True, "*NO": False}.get(text, text)
    if f.kind == "names":
        return text.upper().split()
    if f.kind == "list":
        return text.split()
    return text


def group_items(record: Dict[str, Any], group: EnvGroup) -> List[Dict[str, str]]:
    """The group's entries as text per part ("" is the key of a one-part group)."""
    items = get_path(record, group.path) or []
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append({p.path: to_text(p, item.get(p.path)) for p in group.parts})
        else:
            out.append({"": to_text(group.parts[0], item)})
    return out


def build_record(base: Dict[str, Any], fields: Dict[str, str], groups: Dict[str, List[Dict[str, str]]]) -> Dict[str, Any]:
    """The configuration record from the panel's text (BASE keeps what the panel does not show)."""
    record = copy.deepcopy(base)
    for item in ITEMS:
        if isinstance(item, EnvField) and item.path in fields:
            set_path(record, item.path, from_text(item, fields[item.path]))
        elif isinstance(item, EnvGroup):
            entries = []
            for row in groups.get(item.path, []):
                if not any(v.strip() for v in row.values()):
                    continue            # blank lines are not entries
                if len(item.parts) == 1 and item.parts[0].path == "":
                    entries.append(row[""].strip())
                else:
                    entries.append({p.path: from_text(p, row.get(p.path, "")) for p in item.parts})
            set_path(record, item.path, entries)
    _sections(record, base)
    return record


def _sections(record: Dict[str, Any], base: Dict[str, Any]) -> None:
    """Optional sections exist only when something is in them (so the schema's rules apply)."""
    brms = record.get("brms") or {}
    groups = brms.get("control_groups") or []
    record["brms"] = dict(base.get("brms") or {}, control_groups=groups) if groups else None
    save21 = (record.get("save21") or {}).get("commands") or []
    record["save21"] = {"commands": save21} if save21 else None
    user = record.get("user") or {}
    if user.get("commands") or user.get("program"):
        record["user"] = {"commands": user.get("commands") or [], "program": user.get("program")}
    else:
        record["user"] = None


# ------------------------------------------------------------------ store work (worker threads)

def load_record(name: str) -> Dict[str, Any]:
    from flash4i_tui.config.store_io import environment_record
    from flash4i_tui.store import queries
    return environment_record(queries.environment(name))


def validate_and_save(record: Dict[str, Any], replacing: Optional[str]) -> List[Tuple[str, str]]:
    """Validate RECORD against the store; save it if valid. The problems as (field, message)."""
    from flash4i_tui.config.schema import validate_environment
    from flash4i_tui.config.store_io import export_config, save_environment
    from flash4i_tui.errors import ConfigError
    from flash4i_tui.store.db import write_transaction
    try:
        with write_transaction():       # check and write under one lock: no one saves in between
            normalized = validate_environment(record, export_config(), replacing=replacing)
            save_environment(normalized)
    except ConfigError as exc:
        return [(p.field, p.message) for p in exc.problems]
    return []


def delete_environments(names: Sequence[str]) -> str:
    """Delete environments (their runs and logs stay, by name); refuses one with an active run."""
    from flash4i_tui.store import models as m
    from flash4i_tui.store import queries
    from flash4i_tui.store.db import write_transaction
    deleted = []
    for name in names:
        with write_transaction():
            env = m.Environment.get_or_none(m.Environment.name == name)
            if env is None:
                continue
            active = queries.active_run(env)
            if active is not None:
                return f"Environment {name} not deleted: run {active.id} is {active.state}."
            m.VolumePair.delete().where(m.VolumePair.environment == env).execute()
            m.ScheduleSlot.delete().where(m.ScheduleSlot.environment == env).execute()
            m.Run.update(environment=None).where(m.Run.environment == env).execute()
            env.delete_instance()
            deleted.append(name)
    if len(deleted) == 1:
        return f"Environment {deleted[0]} deleted."
    return f"{len(deleted)} environments deleted." if deleted else "No environment deleted."


def reference_rows(ref: str) -> List[Row]:
    from flash4i_tui.store import queries
    if ref == "partitions":
        return [Row(p.name, {"name": p.name, "what": f"{p.managed_system.name} id {p.lpar_id}",
                             "text": p.description}) for p in queries.partitions()]
    return [Row(s.name, {"name": s.name, "what": s.type, "text": s.description})
            for s in queries.storage_systems()]


# ------------------------------------------------------------------ display (option 5)

def display_lines(record: Dict[str, Any]) -> List[Any]:
    lines: List[Any] = []
    for item in ITEMS:
        if isinstance(item, Section):
            lines += ["", Text(" " + item.label, style=HEADING_STYLE)]
        elif isinstance(item, EnvField):
            lines.append(" " + leader(item.label, 33) + "  " + to_text(item, get_path(record, item.path)))
        else:
            entries = group_items(record, item)
            lines.append(" " + leader(item.label, 33) + ("  " if entries else "  *NONE"))
            for entry in entries:
                lines.append("   " + "   ".join(f"{p.label}: {entry.get(p.path, '')}" if p.path else entry[""]
                                                for p in item.parts))
    return lines


def display_panel(name: str) -> DisplayPanel:
    return DisplayPanel("Display Environment", loader=lambda: display_lines(load_record(name)))


# ------------------------------------------------------------------ the editor panel

class GroupRow(Horizontal):
    """One entry of a repeating group: its parts side by side."""

    DEFAULT_CSS = "GroupRow { height: 1; }"

    def __init__(self, group: EnvGroup, values: Dict[str, str]):
        super().__init__()
        self.group, self.values = group, values

    def compose(self) -> ComposeResult:
        for i, part in enumerate(self.group.parts):
            yield Static(("   " if i == 0 else "  ") + leader(part.label, len(part.label) + 5) + " ", classes="label")
            yield Field(self.values.get(part.path, ""), part.width, f"{self.group.path}.{part.path}".rstrip("."),
                        max_length=part.max_length or part.width)

    def fields(self) -> Dict[str, Field]:
        return {p.path: f for p, f in zip(self.group.parts, self.query(Field))}

    def text(self) -> Dict[str, str]:
        return {k: f.value for k, f in self.fields().items()}


class EnvEditPanel(Panel):
    """Type choices, press Enter. F4 on a partition or storage field lists the values to
    choose from; F4 on a field with fixed values lists them. Blank lines of a list are
    ignored; typing on the last line of a list adds a line."""

    IS_DIALOG = True
    HEADER_HEIGHT = 1
    INSTRUCTIONS = "Type choices, press Enter."
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (12, "Cancel"))
    TITLES = {"create": "Create Environment", "change": "Change Environment", "copy": "Copy Environment"}

    def __init__(self, mode: str, name: Optional[str] = None, **kw):
        super().__init__(**kw)
        self.edit_mode, self.env_name = mode, name
        self.base: Dict[str, Any] = copy.deepcopy(NEW_ENVIRONMENT)
        self.fields: Dict[str, Field] = {}
        self.saving = False

    def panel_title(self) -> str:
        return self.TITLES[self.edit_mode]

    def compose_body(self) -> ComposeResult:
        yield VerticalScroll(id="body", can_focus=False)

    def on_mount(self) -> None:
        super().on_mount()
        body = self.query_one("#body", VerticalScroll)
        self.watch(body, "scroll_y", lambda _: self._more(), init=False)
        if self.env_name is None:
            self.show_record(self.base)
        else:
            self.load(lambda: load_record(self.env_name), self._loaded)

    def _loaded(self, record: Dict[str, Any]) -> None:
        if self.edit_mode == "copy":
            record = dict(record, name="")
        self.base = record
        self.show_record(record)

    def show_record(self, record: Dict[str, Any]) -> None:
        self.call_later(self._show, record)

    async def _show(self, record: Dict[str, Any]) -> None:
        body = self.query_one("#body", VerticalScroll)
        await body.remove_children()
        self.fields = {}
        widgets = []
        for item in ITEMS:
            if isinstance(item, Section):
                widgets.append(Static(" " + item.label, classes="section"))
            elif isinstance(item, EnvField):
                if item.path == "name" and self.edit_mode == "change":
                    widgets.append(Static(" " + leader(item.label, PromptRow.LABEL_WIDTH - 1) + "  "
                                          + str(record.get("name", ""))))
                    continue
                widgets.append(PromptRow(item.label, to_text(item, get_path(record, item.path)), item.width,
                                         item.path, item.hint, max_length=item.max_length or item.width))
            else:
                widgets.append(Static(" " + item.label + ":", classes="group-label"))
                for entry in group_items(record, item) + [{}]:
                    widgets.append(GroupRow(item, entry))
        await body.mount_all(widgets)
        self._after_show()

    def _after_show(self) -> None:
        self.fields = {f.path: f for f in self.query(Field) if f.path and not isinstance(f.parent, GroupRow)}
        first = next(iter(self.query("#body Field").results(Field)), None)
        if first is not None:
            first.focus()
        self.call_after_refresh(self._more)

    def _more(self) -> None:
        body = self.query_one("#body", VerticalScroll)
        self.set_more(body.scroll_y < body.max_scroll_y)

    # ---- lists that grow
    def on_input_changed(self, event: Input.Changed) -> None:
        row = event.input.parent
        if isinstance(row, GroupRow) and event.value.strip():
            rows = [r for r in self.query(GroupRow) if r.group is row.group]
            if rows and rows[-1] is row:
                self.query_one("#body", VerticalScroll).mount(GroupRow(row.group, {}), after=row)

    def group_rows(self, path: str) -> List[GroupRow]:
        return [r for r in self.query(GroupRow) if r.group.path == path]

    # ---- Enter: validate everything, save only when all is valid
    def press_enter(self) -> None:
        self.clear_message()
        if self.saving:
            return
        for f in self.query(Field):
            f.set_error("")
        fields = {path: f.value for path, f in self.fields.items()}
        if self.edit_mode == "change":
            fields["name"] = str(self.base.get("name", ""))
        groups = {item.path: [r.text() for r in self.group_rows(item.path)]
                  for item in ITEMS if isinstance(item, EnvGroup)}
        problems = self.local_problems(fields)
        if problems:
            self.show_problems(problems)
            return
        record = build_record(self.base, fields, groups)
        replacing = self.env_name if self.edit_mode == "change" else None
        self.saving = True
        self.load(lambda: validate_and_save(record, replacing), partial(self.saved, record["name"]),
                  group="save", failed=lambda exc: setattr(self, "saving", False))

    def local_problems(self, fields: Dict[str, str]) -> List[Tuple[str, str]]:
        """What the schema would word in YAML terms (true/false) is checked here in panel terms."""
        out = []
        for item in ITEMS:
            if isinstance(item, EnvField) and item.kind == "bool" and item.path in fields:
                if fields[item.path].strip().upper() not in YES_NO:
                    out.append((item.path, "Type *YES or *NO."))
        return out

    def saved(self, name: str, problems: List[Tuple[str, str]]) -> None:
        self.saving = False
        if problems:
            self.show_problems(problems)
            return
        verb = {"create": "created", "change": "changed", "copy": "created"}[self.edit_mode]
        self.dismiss(f"Environment {name} {verb}.")

    def show_problems(self, problems: List[Tuple[str, str]]) -> None:
        first: Optional[Field] = None
        for path, text in problems:
            target = self.field_for(path)
            if target is None:
                continue
            if not target.error_text:
                target.set_error(text)
            first = first or target
        if first is not None:
            first.focus()
            self.message(first.error_text)
        else:
            self.message(problems[0][1])

    def field_for(self, path: str) -> Optional[Field]:
        """The field a problem's path (`volumes[1].target`, `brms`) points at."""
        path = ALIASES.get(path, path)
        m = re.fullmatch(r"(.+?)\[(\d+)\](?:\.(\w+))?", path)
        if m and self.group_rows(m.group(1)):
            filled = [r for r in self.group_rows(m.group(1)) if any(v.strip() for v in r.text().values())]
            index = int(m.group(2))
            if index < len(filled):
                parts = filled[index].fields()
                return parts.get(m.group(3) or "") or next(iter(parts.values()))
        base = re.sub(r"\[\d+\].*$", "", path)
        base = ALIASES.get(base, base)
        if base in self.fields:
            return self.fields[base]
        rows = self.group_rows(base)
        if rows:
            return next(iter(rows[0].fields().values()))
        return self.fields.get("name")

    def on_descendant_focus(self, event) -> None:
        widget = event.widget
        if isinstance(widget, Field) and widget.error_text:
            self.message(widget.error_text)

    # ---- keys
    def fkey_5(self) -> None:
        self.show_record(self.base)

    def fkey_4(self) -> None:
        focused = self.focused
        item = next((i for i in ITEMS if isinstance(i, EnvField) and isinstance(focused, Field)
                     and i.path == focused.path), None)
        if item is None or not (item.ref or item.choices):
            self.message("F4 is not available for this field.")
            return
        target: Field = focused  # type: ignore[assignment]

        def chosen(value: Any) -> None:
            if isinstance(value, str) and value != EXIT:
                target.value = value
                target.focus()
        cols = [Column("name", "Value", 16), Column("what", "Kind", 14), Column("text", "Text", 0)]
        title = f"Select {item.label}"
        if item.choices:
            self.open(SelectPanel(title, [Row(c, {"name": c}) for c in item.choices], cols[:1]), chosen)
        else:
            self.load(lambda: reference_rows(item.ref),
                      lambda rows: self.open(SelectPanel(title, rows, cols), chosen), group="f4")

    def roll(self, forward: bool) -> None:
        super().roll(forward)
        self.call_after_refresh(self.focus_first_visible)

    def focus_first_visible(self) -> None:
        """After a roll the cursor goes to the first input field on the new page, as on a 5250."""
        body = self.query_one("#body", VerticalScroll)
        top, bottom = body.scroll_y, body.scroll_y + body.size.height
        for row in body.children:
            fields = row.query(Field)
            if top <= row.virtual_region.y < bottom and fields:
                fields.first(Field).focus(scroll_visible=False)
                return

