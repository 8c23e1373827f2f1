"""The simulated IBM i of the lab.

- `state`: what is on the disk units (IbmiState), `install_systems()` for the topology;
- `boot`: the IPL of a disk set on an LPAR (`boot()`, BootFailure);
- `runtime`: the running system (jobs, subsystems, TCP/IP, CHGASPACT, power down);
- `cl`, `commands`, `clprogram`: CL commands and CL programs; `sql`, `catalog`: SQL services;
- `pase`: `system`, `db2util`, python over a shell line; `agenthost`: LabHost for the agent;
- `front`: the SSH/SFTP front (IbmiFront), one per network address.
"""
from __future__ import annotations

from . import commands as _commands  # noqa: F401  (registers the CL commands)
from . import catalog as _catalog    # noqa: F401  (registers the SQL views)
from .agenthost import LabHost
from .boot import BootFailure, Ipl, IplCancelled, boot
from .front import IbmiFront
from .runtime import DEFAULT_PYTHON, IbmiRuntime, JobEnded
from .state import IbmiState, build_state, install_systems

__all__ = ["BootFailure", "DEFAULT_PYTHON", "IbmiFront", "IbmiRuntime", "IbmiState", "Ipl", "IplCancelled",
           "JobEnded", "LabHost", "boot", "build_state", "install_systems"]
