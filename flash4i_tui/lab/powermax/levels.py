"""Unisphere for PowerMax levels the lab can play (topology: `unisphere: '10.4'` on a powermax).

A level changes what `GET /univmax/restapi/version` answers and which API versions the paths
accept (`/univmax/restapi/<api>/...`); a path with an API version the level does not serve is a
404, as on a real Unisphere. Clients judge the level by that answer: PyU4V 10.4 refuses a
Unisphere older than 10.4 unless told an API version; PyU4V 10.0 builds every path with "100".

Facts and choices:
- the version string is 'V' + dotted level (`V10.0.0.1`): PyU4V derives the major API version
  from it ("V10.4.0.0" -> "104") [V: PyU4V common.get_uni_version];
- Unisphere 10.1 serves API versions 101, 100 and 92 [V: PyU4V common.get_uni_version_info
  docstring]; the lab gives every level the same rule (its own and the two before it on the
  ladder 91, 92, 100, 101, ...) [U], overridable per array with `supported_api_versions`;
- the build numbers after the level are [U].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

API_LADDER = ("91", "92", "100", "101", "102", "103", "104")
BUILDS = {"10.0": "V10.0.0.1", "10.1": "V10.1.0.2", "10.2": "V10.2.0.1", "10.3": "V10.3.0.1",
          "10.4": "V10.4.0.0"}                                                         # [U] builds
DEFAULT_LEVEL = "10.0"


@dataclass(frozen=True)
class UnisphereLevel:
    level: str                         # "10.4"
    version: str                       # what /version answers: "V10.4.0.0"
    api_version: str                   # "104"
    supported: Tuple[str, ...]         # API versions the paths accept, newest first

    def answer(self) -> dict:
        return {"version": self.version, "api_version": self.api_version,
                "supported_api_versions": list(self.supported)}


def unisphere_level(where: str, value: Any = None) -> UnisphereLevel:
    """The level of a topology's `unisphere:` value: '10.4', or {level: '10.4', version: ...,
    supported_api_versions: [...]} to override what the references leave unverified."""
    item = value if isinstance(value, dict) else {"level": value if value is not None else DEFAULT_LEVEL}
    unknown = set(item) - {"level", "version", "supported_api_versions"}
    if unknown:
        raise ValueError(f"{where}.unisphere: unknown keys {', '.join(sorted(unknown))}")
    level = str(item.get("level", DEFAULT_LEVEL))
    if level not in BUILDS:
        raise ValueError(f"{where}.unisphere: level {level!r} is not one of {', '.join(BUILDS)}")
    api = level.replace(".", "")
    rung = API_LADDER.index(api)
    supported = item.get("supported_api_versions")
    if supported is None:
        supported = [API_LADDER[i] for i in range(rung, max(-1, rung - 3), -1)]
    supported = tuple(str(v) for v in supported)
    if api not in supported:
        raise ValueError(f"{where}.unisphere: supported_api_versions must include {api}")
    return UnisphereLevel(level, str(item.get("version") or BUILDS[level]), api, supported)
