"""Dell's PyU4V, unmodified, through a SnapVX cycle against a Unisphere (the lab's, in the tests).

Run as a program by tests/lab/test_pyu4v.py, in a fresh interpreter that imports whichever PyU4V
release comes first on its path (two releases cannot share one environment):

    python pyu4v_flow.py HOST PORT SID CA_FILE SOURCE_SG TARGET_SG DEVICE,DEVICE  (password: PYU4V_PASSWORD)

It prints one JSON object: what PyU4V returned at each step. The test judges it, and the lab's
own state; this file asserts nothing. Only PyU4V's public calls are used, as a user would.
"""
from __future__ import annotations

import json
import os
import sys


def main(argv: list) -> dict:
    host, port, sid, ca_file, src, tgt, devices = argv
    devices = devices.split(",")
    import PyU4V
    from PyU4V.utils import exception
    out: dict = {"pyu4v": getattr(PyU4V, "__version__", "")}
    try:
        from PyU4V.utils import constants
        out["pyu4v"] = constants.PYU4V_VERSION
    except (ImportError, AttributeError):
        pass
    conn = PyU4V.U4VConn(username="flash4i", password=os.environ["PYU4V_PASSWORD"], server_ip=host, port=port,
                         verify=ca_file, array_id=sid, interval=0.05, retries=400)
    out["version"] = list(conn.common.get_uni_version())
    out["arrays"] = conn.common.get_array_list()
    out["array"] = conn.common.get_array(sid)
    out["snapvx_licensed"] = conn.replication.is_snapvx_licensed()

    # Storage groups and volumes: a source group made from existing devices.
    out["sgs_before"] = conn.provisioning.get_storage_group_list()
    conn.provisioning.create_empty_storage_group(None, src, None, None)
    conn.provisioning.add_existing_volume_to_storage_group(src, devices)
    out["sg"] = conn.provisioning.get_storage_group(src)
    out["sg_volumes"] = conn.provisioning.get_volumes_from_storage_group(src)
    out["volume"] = conn.provisioning.get_volume(devices[0])

    # Two generations of one snapshot, by snap id and by generation number.
    r = conn.replication
    out["snaps_before"] = r.get_storage_group_snapshot_list(src)
    r.create_storage_group_snapshot(src, "PYSNAP")
    r.create_storage_group_snapshot(src, "PYSNAP")
    out["snaps"] = r.get_storage_group_snapshot_list(src)
    snapids = r.get_storage_group_snapshot_snap_id_list(src, "PYSNAP")
    out["snapids"] = snapids
    out["generations"] = r.get_storage_group_snapshot_generation_list(src, "PYSNAP")
    out["gen0"] = r.get_snapshot_generation_details(src, "PYSNAP", 0)
    old, new = sorted(snapids)

    # Link the older generation as a job, polled to its end; relink the newer; unlink.
    job = r.modify_storage_group_snapshot_by_snap_id(src, tgt, "PYSNAP", old, link=True, _async=True)
    out["link_job"] = job
    out["link_done"] = list(conn.common.wait_for_job_complete(job))
    out["linked_old"] = r.get_snapshot_snap_id_details(src, "PYSNAP", old)
    try:
        r.delete_storage_group_snapshot_by_snap_id(src, "PYSNAP", old)
        out["terminate_linked"] = "accepted"
    except exception.VolumeBackendAPIException as error:
        out["terminate_linked"] = str(error)
    r.modify_storage_group_snapshot_by_snap_id(src, tgt, "PYSNAP", new, relink=True)
    out["relinked_new"] = r.get_snapshot_snap_id_details(src, "PYSNAP", new)
    out["relinked_old"] = r.get_snapshot_snap_id_details(src, "PYSNAP", old)
    out["target_volume"] = conn.provisioning.get_volume(conn.provisioning.get_volumes_from_storage_group(tgt)[0])
    job = r.unlink_snapshot_by_snap_id(src, tgt, "PYSNAP", new, _async=True)
    out["unlink_done"] = list(conn.common.wait_for_job_complete(job))
    r.delete_storage_group_snapshot_by_snap_id(src, "PYSNAP", new)
    r.delete_storage_group_snapshot(src, "PYSNAP", 0)            # the older one, now generation 0
    out["snaps_after"] = r.get_storage_group_snapshot_list(src)
    try:
        r.get_snapshot_snap_id_details(src, "PYSNAP", new)
        out["missing"] = "found"
    except exception.ResourceNotFoundException as error:
        out["missing"] = str(error)
    conn.close_session()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), default=str))
