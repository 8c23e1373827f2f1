"""The simulated HMC: model (managed systems, partitions, VIOS; no I/O), SSH command-line
front, and HSCL errors."""
from __future__ import annotations

from .model import Hmc, Lpar, ManagedSystem, Vios, build_hmcs

__all__ = ["Hmc", "Lpar", "ManagedSystem", "Vios", "build_hmcs"]
