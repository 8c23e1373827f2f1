"""Simulated IBM Storage Virtualize array: `model` (state machine, no I/O), `cli` (the SSH CLI
front) and `errors` (CMMVC messages)."""
from __future__ import annotations

from .cli import SvcFront
from .errors import SvcError
from .model import FcGroup, FcMap, Host, StorageArray, Volume, build_arrays

__all__ = ["FcGroup", "FcMap", "Host", "StorageArray", "SvcError", "SvcFront", "Volume", "build_arrays"]
