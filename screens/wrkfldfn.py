"""WRKFLDFN: the definitions the environments use: HMCs, storage systems, partitions."""
from __future__ import annotations

from typing import Any, Hashable, List

from .fmt import leader
from .layout import Anchor, Column, Page, Row, page_of
from .panel import DisplayPanel, ListPanel

TYPES = ("HMC", "STORAGE", "PARTITION")


def auth_text(auth: Any) -> str:
    """How a device is reached, never a secret (the store holds none)."""
    auth = auth or {}
    if auth.get("key_file"):
        return f"key {auth['key_file']}"
    if auth.get("agent"):
        return "SSH agent"
    if auth.get("password_env"):
        return f"password from ${auth['password_env']}"
    return ""


def definition_rows() -> List[Row]:
    """All definitions (tens of lines at most; one query per kind)."""
    from flash4i_tui.store import queries
    rows = [Row(("HMC", h.name), {"type": "HMC", "name": h.name, "where": f"{h.host}:{h.port}",
                                  "text": h.description}) for h in queries.hmcs()]
    rows += [Row(("STORAGE", s.name), {"type": "STORAGE", "name": s.name, "where": f"{s.type} {s.host}:{s.port}",
                                       "text": s.description}) for s in queries.storage_systems()]
    rows += [Row(("PARTITION", p.name), {"type": "PARTITION", "name": p.name,
                                         "where": f"{p.managed_system.name} id {p.lpar_id}", "text": p.description})
             for p in queries.partitions()]
    for i, row in enumerate(rows):
        row.order = i
    return rows


def detail_lines(kind: str, name: str) -> List[str]:
    from flash4i_tui.store import models as m

    def line(label: str, value: Any) -> str:
        return " " + leader(label, 26) + "  " + ("" if value is None else str(value))
    if kind == "HMC":
        h = m.Hmc.get(m.Hmc.name == name)
        systems = " ".join(s.name for s in h.managed_systems.order_by(m.ManagedSystem.name))
        return [line("HMC", h.name), line("Host", h.host), line("Port", h.port), line("User", h.user),
                line("Authentication", auth_text(h.auth)), line("Known hosts file", h.known_hosts),
                line("Managed systems", systems), line("Text", h.description)]
    if kind == "STORAGE":
        s = m.StorageSystem.get(m.StorageSystem.name == name)
        options = ", ".join(f"{k}={v}" for k, v in sorted((s.options or {}).items()) if v is not None)
        return [line("Storage system", s.name), line("Type", s.type), line("Host", s.host), line("Port", s.port),
                line("User", s.user), line("Authentication", auth_text(s.auth)),
                line("Known hosts file", s.known_hosts), line("Options", options), line("Text", s.description)]
    p = m.Partition.get(m.Partition.name == name)
    src = " ".join(e.name for e in p.source_of.order_by(m.Environment.name))
    cln = " ".join(e.name for e in p.clone_of.order_by(m.Environment.name))
    return [line("Partition", p.name), line("HMC", p.managed_system.hmc.name),
            line("Managed system", p.managed_system.name), line("Partition name", p.lpar_name),
            line("Partition id", p.lpar_id), line("Profile", p.profile), line("SSH host", p.ssh_host),
            line("SSH port", p.ssh_port), line("SSH user", p.ssh_user), line("Authentication", auth_text(p.ssh_auth)),
            line("Known hosts file", p.known_hosts), line("Address", getattr(p, "address", None) or p.ssh_host),
            line("Storage host objects", " ".join(getattr(p, "storage_hosts", None) or []) or "*NONE"),
            line("Source of environments", src or "*NONE"),
            line("Clone of environments", cln or "*NONE"), line("Text", p.description)]


class WrkFlDfnPanel(ListPanel):
    """The HMCs, storage systems and partitions the environments refer to. They are
    defined in the configuration file (`flash4i config import`); 5 shows one in full."""

    TITLE_TEXT = "Work with Flash Definitions"
    OPTIONS = (("5", "Display"),)
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (9, "Retrieve"), (12, "Cancel"), (17, "Top"),
             (18, "Bottom"))
    COLUMNS = (
        Column("type", "Type", 9),
        Column("name", "Name", 10),
        Column("where", "Host / system", 24),
        Column("text", "Text", 0),
    )
    EMPTY_TEXT = "(No definitions: import a configuration with flash4i config import)"

    def page(self, anchor: Anchor, limit: int) -> Page:
        return page_of(definition_rows(), anchor, limit)

    def option_5(self, keys: List[Hashable]) -> None:
        kind, name = keys[0]  # type: ignore[misc]
        title = {"HMC": "Display HMC", "STORAGE": "Display Storage System", "PARTITION": "Display Partition"}[kind]
        self.open(DisplayPanel(title, loader=lambda: detail_lines(kind, name)), self.option_done)
