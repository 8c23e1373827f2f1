"""Storage drivers: one interface (base.StorageDriver), one module per family."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ...errors import ValidationError
from .base import StorageDriver

# Storage options (configuration `storage[].options`) that tune a driver; the others
# (prepare_timeout, pool, TLS) are read by the engine or by other families.
_SVC_TUNING = ("command_timeout", "poll_interval", "cleanup_timeout")


def driver_for(family: str, session: Any, name: str, options: Optional[Mapping[str, Any]] = None) -> StorageDriver:
    """The driver of storage type FAMILY for device NAME over SESSION (an SshSession for svc)."""
    options = options or {}
    if family == "svc":
        from .svc import SvcDriver
        return SvcDriver(session, name, **{key: float(options[key]) for key in _SVC_TUNING
                                           if options.get(key) is not None})
    raise ValidationError(f"storage type {family!r} has no driver yet (available: svc)")
