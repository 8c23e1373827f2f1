"""The lab: simulated HMC, storage arrays and IBM i partitions over loopback (see ARCHITECTURE.md)."""

# The shipped datacenters, one per storage family (`flash4i lab --storage`, `flash4i demo --storage`).
# Here, not in lab.server, so the command line lists them without importing the servers.
TOPOLOGIES = {"svc": "lab-topology.yaml", "ds8000": "lab-ds8000.yaml", "powermax": "lab-powermax.yaml"}
