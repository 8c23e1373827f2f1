"""The lab: simulated HMC, storage arrays and IBM i partitions over loopback (see ARCHITECTURE.md)."""

from ..families import FAMILIES

# The shipped datacenters, one per storage family (`flash4i lab --storage`, `flash4i demo --storage`).
# Here, not in lab.server, so the command line lists them without importing the servers.
TOPOLOGIES = {f.name: f.lab_topology for f in FAMILIES.values()}
