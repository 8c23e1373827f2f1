"""Simulated Dell PowerMax: `model` (devices, storage groups, masking, SnapVX, jobs; no I/O),
`rest` (the Unisphere REST front over HTTPS) and `errors` (HTTP status and message)."""
from __future__ import annotations

from .errors import PmaxError
from .model import PmaxArray, build_powermax
from .rest import PowerMaxFront

__all__ = ["PmaxArray", "PmaxError", "PowerMaxFront", "build_powermax"]
