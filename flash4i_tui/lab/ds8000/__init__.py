"""Simulated IBM DS8000: `model` (volumes, hosts, tokens, FlashCopy with freeze; no I/O), `rest`
(the REST front over HTTPS) and `errors` (the server envelope's codes)."""
from __future__ import annotations

from .errors import Ds8kError
from .model import Ds8kArray, build_ds8000
from .rest import Ds8000Front

__all__ = ["Ds8000Front", "Ds8kArray", "Ds8kError", "build_ds8000"]
