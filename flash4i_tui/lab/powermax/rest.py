"""The Unisphere REST front (reference §3) over HTTPS, HTTP Basic authentication on every request:

    GET  /univmax/restapi/version                       (the array's Unisphere level, levels.py)
    GET  /{ver}/system/symmetrix  .../symmetrix/{sid}   /{ver}/sloprovisioning/symmetrix[/{sid}]
    GET  /{ver}/sloprovisioning/symmetrix/{sid}/volume[?storageGroupId=SG]   /volume/{dev}
    GET  POST             .../storagegroup          GET PUT DELETE .../storagegroup/{sg}
    GET  .../maskingview  .../maskingview/{mv}  .../maskingview/{mv}/connections
    GET  /{ver}/replication/capabilities/symmetrix  /{ver}/replication/symmetrix/{sid}
    GET  /{ver}/replication/symmetrix/{sid}/storagegroup[?hasSnapshots=true]   .../storagegroup/{sg}
    GET  POST /{ver}/replication/symmetrix/{sid}/storagegroup/{sg}/snapshot
    GET  .../snapshot/{name}/snapid      GET PUT DELETE .../snapshot/{name}/snapid/{snapid}
    GET  .../snapshot/{name}/generation  GET PUT DELETE .../snapshot/{name}/generation/{gen}
    GET  /{ver}/system/job/{id}

Errors are an HTTP status with {"message": ...}. A PUT or POST whose body says
"executionOption": "ASYNCHRONOUS" answers 202 with a job (link, relink, unlink, establish).
{ver} must be an API version the array's Unisphere level serves; others are 404.

Snapshots are addressed two ways, as on Unisphere 9.2 and later [V: PyU4V replication.py]: by
snapid (unique, snake_case bodies: `link.storage_group_name`) and by generation (0 is the
newest; the older camelCase bodies: `link.linkStorageGroupName`, `isLinked`, ...).

The front routes from its tables ROUTES and ARRAY_ROUTES (method, path pattern -> handler), as
the SVC CLI front does from its VERBS.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any, Callable, List, Optional

from ..blockarray import Volume
from ..faults import Fault
from ..https import HttpRequest, HttpsFront, Reply, Route, TlsFiles, http_status, route
from .errors import PmaxError
from .model import CYLINDER_BYTES, TRACK_BYTES, Generation, Job, PmaxArray, StorageGroup, pmax_time

ROOT = ("univmax", "restapi")
GiB = 1024 ** 3


def _gb(nbytes: int) -> float:
    return round(nbytes / GiB, 7)


def _job_time(when: Optional[Any]) -> str:
    return when.strftime("%b-%d-%Y %H:%M:%S.000") if when else "N/A"


# Under /univmax/restapi/{ver}: (method, path pattern) -> handler. ROUTES first; then, under
# {sloprovisioning|replication}/symmetrix/{sid} (the array's own id), that category's table.
ROUTES = (
    Route("GET", "sloprovisioning/symmetrix", "_get_symmetrix_list"),
    Route("GET", "system/symmetrix", "_get_symmetrix_list"),
    Route("GET", "replication/capabilities/symmetrix", "_get_capabilities"),
    Route("GET", "{category:system,sloprovisioning,replication}/symmetrix/{sid}", "_get_array"),
    Route("GET", "system/job/{job}", "_get_job"),
)
GENERATION = "storagegroup/{sg}/snapshot/{name}/{form:snapid,generation}/{key}"
ARRAY_ROUTES = {
    "sloprovisioning": (
        Route("GET", "volume", "_volume_list"),
        Route("GET", "volume/{device}", "_get_volume"),
        Route("GET", "storagegroup", "_get_sgs"),
        Route("POST", "storagegroup", "_create_sg"),
        Route("GET", "storagegroup/{sg}", "_get_sg"),
        Route("PUT", "storagegroup/{sg}", "_edit_sg"),
        Route("DELETE", "storagegroup/{sg}", "_delete_sg"),
        Route("GET", "maskingview", "_get_views"),
        Route("GET", "maskingview/{view}", "_get_view"),
        Route("GET", "maskingview/{view}/connections", "_get_connections"),
    ),
    "replication": (
        Route("GET", "storagegroup", "_get_replicated_sgs"),
        Route("GET", "storagegroup/{sg}", "_get_sg_replication"),
        Route("GET", "storagegroup/{sg}/snapshot", "_get_snapshot_names"),
        Route("POST", "storagegroup/{sg}/snapshot", "_post_snapshot"),
        Route("GET", "storagegroup/{sg}/snapshot/{name}/snapid", "_get_snapids"),
        Route("GET", "storagegroup/{sg}/snapshot/{name}/generation", "_get_generations"),
        Route("GET", GENERATION, "_get_generation"),
        Route("PUT", GENERATION, "_put_generation"),
        Route("DELETE", GENERATION, "_delete_generation"),
    ),
}


class PowerMaxFront(HttpsFront):
    label = "powermax"

    def __init__(self, array: PmaxArray, tls: TlsFiles, port: int = 0):
        super().__init__(array.world, array.name, tls, port)
        self.array = array

    def fault_reply(self, fault: Fault) -> Reply:
        return Reply(http_status(fault, 500), {"message": fault.message or "Internal server error"})

    def bad_json(self, request: HttpRequest) -> Reply:
        return Reply(400, {"message": "Unable to parse the request body as JSON"})

    # ---------------------------------------------------------------- routing

    def handle(self, request: HttpRequest) -> Reply:
        try:
            self._authenticate(request)
            parts = request.parts
            if tuple(parts[:2]) != ROOT:
                raise PmaxError("no_resource", path=request.path)
            route = parts[2:]
            if route == ["version"] and request.method == "GET":
                return Reply(200, self.array.level.answer())
            if not route or route[0] not in self.array.level.supported:
                raise PmaxError("no_version", version=route[0] if route else "")
            return self._route(request, route[1:])
        except PmaxError as error:
            return Reply(error.status, error.body())

    def _authenticate(self, request: HttpRequest) -> None:
        header = request.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise PmaxError("unauthorized") from None
        if scheme.lower() != "basic" or not user or self.array.users.get(user) != password:
            raise PmaxError("unauthorized")

    def _route(self, request: HttpRequest, r: List[str]) -> Reply:
        found = route(ROUTES, request.method, r)
        if found is not None:
            entry, segments = found
            return getattr(self, entry.handler)(request, **segments)
        if len(r) < 3 or r[1] != "symmetrix" or r[0] not in ("sloprovisioning", "replication"):
            raise PmaxError("no_resource", path=request.path)
        if r[2] != self.array.sid:
            raise PmaxError("no_array", sid=r[2])
        found = route(ARRAY_ROUTES[r[0]], request.method, r[3:])
        if found is None:
            raise PmaxError("no_resource", path=request.path)
        entry, segments = found
        answer = getattr(self, entry.handler)
        if request.method != "GET":
            return answer(request, **segments)
        with self.array.lock:                       # a listing is one consistent picture
            return answer(request, **segments)

    # ---------------------------------------------------------------- the system

    def _get_symmetrix_list(self, request: HttpRequest) -> Reply:
        return Reply(200, {"symmetrixId": [self.array.sid]})

    def _get_capabilities(self, request: HttpRequest) -> Reply:
        return Reply(200, {"symmetrixCapability": [{"symmetrixId": self.array.sid, "snapVxCapable": True,
                                                    "rdfCapable": False}]})

    def _get_array(self, request: HttpRequest, category: str, sid: str) -> Reply:
        if sid != self.array.sid:
            raise PmaxError("no_array", sid=sid)
        return Reply(200, self._array(category))

    def _get_job(self, request: HttpRequest, job: str) -> Reply:
        with self.array.lock:
            found = self.array.jobs.get(job)
            if found is None:
                raise PmaxError("no_job", job=job)
            return Reply(200, self._job(found))

    # ---------------------------------------------------------------- provisioning

    def _get_volume(self, request: HttpRequest, device: str) -> Reply:
        return Reply(200, self._volume(self.array.need_volume(device)))

    def _get_sgs(self, request: HttpRequest) -> Reply:
        return Reply(200, {"storageGroupId": sorted(self.array.storage_groups)})

    def _get_sg(self, request: HttpRequest, sg: str) -> Reply:
        return Reply(200, self._sg(self.array.need_sg(sg)))

    def _get_views(self, request: HttpRequest) -> Reply:
        return Reply(200, {"maskingViewId": sorted(self.array.views)})

    def _get_view(self, request: HttpRequest, view: str) -> Reply:
        return Reply(200, self._view(view))

    def _get_connections(self, request: HttpRequest, view: str) -> Reply:
        return Reply(200, self._connections(view))

    def _volume(self, v: Volume) -> dict:
        groups = self.array.groups_of(v)
        linked = self.array._linked_to(v) is not None
        source = any(v in gen.sources for by_name in self.array.snapshots.values() for gens in by_name.values()
                     for gen in gens)
        cylinders = v.capacity // CYLINDER_BYTES
        return {"volumeId": v.id, "type": "TDEV", "emulation": "FBA", "ssid": "FFFF",
                "allocated_percent": int(v.used_bytes * 100 // v.capacity) if v.capacity else 0,
                "cap_gb": _gb(v.capacity), "cap_mb": round(v.capacity / 1024 ** 2, 2), "cap_cyl": cylinders,
                "status": "Ready", "reserved": False, "pinned": False, "physical_name": "",
                "volume_identifier": getattr(v, "identifier", ""), "wwn": v.uid, "encapsulated": False,
                "num_of_storage_groups": len(groups), "num_of_front_end_paths": 0, "storageGroupId": groups,
                "snapvx_source": "true" if source else "false", "snapvx_target": "true" if linked else "false",
                "has_effective_wwn": False, "effective_wwn": v.uid, "mobility_id_enabled": False}

    def _volume_list(self, request: HttpRequest) -> Reply:
        sg = (request.query.get("storageGroupId") or [None])[0]
        volumes = self.array.need_sg(sg).in_device_order() if sg else \
            [self.array.volumes[k] for k in sorted(self.array.volumes)]
        result = [{"volumeId": v.id} for v in volumes]
        return Reply(200, {"id": str(uuid.uuid4()), "count": len(result), "expirationTime": 0, "maxPageSize": 1000,
                           "resultList": {"result": result, "from": 1 if result else 0, "to": len(result)}})

    def _sg(self, sg: StorageGroup) -> dict:
        views = sorted(v.name for v in self.array.views.values() if v.sg == sg.name)
        # num_of_vols [V: PyU4V test data sg_details; provisioning.get_num_vols_in_storage_group]
        return {"storageGroupId": sg.name, "slo": "NONE", "srp": "NONE", "num_of_vols": len(sg.volumes),
                "num_of_child_sgs": 0, "num_of_parent_sgs": 0, "num_of_masking_views": len(views),
                "num_of_snapshots": sum(len(g) for g in self.array.snapshots.get(sg.name, {}).values()),
                "cap_gb": _gb(sum(v.capacity for v in sg.volumes)), "device_emulation": "FBA",
                "type": "Standalone", "unprotected": not self.array.snapshots.get(sg.name), "maskingview": views}

    def _create_sg(self, request: HttpRequest) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        name = body.get("storageGroupId")
        if not isinstance(name, str) or not name:
            raise PmaxError("bad_request", why="storageGroupId is required")
        if body.get("emulation", "FBA") != "FBA":
            raise PmaxError("bad_request", why="only FBA storage groups are supported")
        return Reply(201, self._sg(self.array.create_sg(name)))

    def _edit_sg(self, request: HttpRequest, sg: str) -> Reply:
        param = (request.body or {}).get("editStorageGroupActionParam") if isinstance(request.body, dict) else None
        if not isinstance(param, dict) or len(param) != 1:
            raise PmaxError("bad_request", why="editStorageGroupActionParam needs exactly one action")
        add = ((param.get("expandStorageGroupParam") or {}).get("addSpecificVolumeParam") or {}).get("volumeId")
        remove = (param.get("removeVolumeParam") or {}).get("volumeId")
        devices = add if add is not None else remove
        if not isinstance(devices, list) or not devices or not all(isinstance(d, str) for d in devices):
            raise PmaxError("bad_request", why="volumeId must be a list of device ids")
        if add is not None:
            self.array.add_to_sg(sg, devices)
        else:
            self.array.remove_from_sg(sg, devices)
        with self.array.lock:
            return Reply(200, self._sg(self.array.need_sg(sg)))

    def _delete_sg(self, request: HttpRequest, sg: str) -> Reply:
        self.array.delete_sg(sg)
        return Reply(204)

    def _need_view(self, name: str):
        view = self.array.views.get(name)
        if view is None:
            raise PmaxError("no_view", view=name)
        return view

    def _view(self, name: str) -> dict:
        view = self._need_view(name)
        return {"maskingViewId": view.name, "hostId": view.host.name, "portGroupId": view.port_group,
                "storageGroupId": view.sg}

    def _connections(self, name: str) -> dict:
        view = self._need_view(name)
        rows = []
        for volume in sorted(self.array.storage_groups[view.sg].volumes, key=lambda v: view.luns[v.id]):
            for wwpn in view.host.wwpns or ["-"]:
                rows.append({"volumeId": volume.id, "host_lun_address": f"{view.luns[volume.id]:04X}",
                             "cap_gb": _gb(volume.capacity), "initiatorId": wwpn.lower(), "dir_port": "FA-1D:4",
                             "logged_in": True, "on_fabric": True})
        return {"maskingViewConnection": rows}

    # ---------------------------------------------------------------- SnapVX

    def _get_replicated_sgs(self, request: HttpRequest) -> Reply:
        return Reply(200, {"name": self._replicated_sgs(request)})

    def _get_sg_replication(self, request: HttpRequest, sg: str) -> Reply:
        return Reply(200, self._sg_replication(sg))

    def _get_snapshot_names(self, request: HttpRequest, sg: str) -> Reply:
        a = self.array
        return Reply(200, {"name": sorted(n for n, gens in a.snapshots.get(a.need_sg(sg).name, {}).items() if gens)})

    def _post_snapshot(self, request: HttpRequest, sg: str) -> Reply:
        return self._establish(request, sg)

    def _get_snapids(self, request: HttpRequest, sg: str, name: str) -> Reply:
        return Reply(200, {"snapids": [g.snapid for g in self.array.generations(sg, name)]})

    def _get_generations(self, request: HttpRequest, sg: str, name: str) -> Reply:
        return Reply(200, {"generations": list(range(len(self.array.generations(sg, name))))})

    def _named_generation(self, sg: str, name: str, form: str, key: str) -> Generation:
        """The generation a .../snapid/{id} or .../generation/{n} path names."""
        a = self.array
        if form == "snapid":
            return a.generation(sg, name, int(key) if key.isdigit() else -1)
        gens = a.generations(sg, name)
        if not key.isdigit() or int(key) >= len(gens):
            raise PmaxError("no_generation", gen=key, name=name)
        return gens[len(gens) - 1 - int(key)]          # generation 0 is the newest

    def _get_generation(self, request: HttpRequest, sg: str, name: str, form: str, key: str) -> Reply:
        return Reply(200, self._detail(self._named_generation(sg, name, form, key), form))

    def _put_generation(self, request: HttpRequest, sg: str, name: str, form: str, key: str) -> Reply:
        return self._modify(request, self._named_generation(sg, name, form, key), form)

    def _delete_generation(self, request: HttpRequest, sg: str, name: str, form: str, key: str) -> Reply:
        return self._terminate(self._named_generation(sg, name, form, key))

    def _replicated_sgs(self, request: HttpRequest) -> List[str]:
        wanted = (request.query.get("hasSnapshots") or [""])[0].lower()
        names = sorted(self.array.storage_groups)
        if wanted in ("true", "false"):
            names = [n for n in names if bool(self.array.snapshots.get(n)) == (wanted == "true")]
        return names

    def _sg_replication(self, name: str) -> dict:
        sg = self.array.need_sg(name)
        snaps = sorted(n for n, gens in self.array.snapshots.get(name, {}).items() if gens)
        return {"storageGroupName": sg.name, "symmetrixId": self.array.sid, "snapVXSnapshots": snaps,
                "numSnapVXSnapshots": len(snaps), "rdf": False, "modes": []}

    def _array(self, category: str) -> dict:
        a = self.array
        detail = {"symmetrixId": a.sid, "model": a.MODEL, "ucode": a.UCODE, "local": True,
                  "device_count": len(a.volumes)}
        if category == "replication":
            return {"symmetrixId": a.sid, "storageGroupCount": len(a.storage_groups),
                    "replicationCacheUsage": 0, "rdfgNumbersUsed": 0,
                    "snapshotSGCount": sum(1 for by_name in a.snapshots.values() if by_name)}
        return detail

    def _detail(self, gen: Generation, form: str) -> dict:
        """A generation as the snapid form (snake_case) or the generation form (camelCase) shows it."""
        body = self._generation(gen)
        if form == "snapid":
            return body
        gens = self.array.generations(gen.sg, gen.name)
        return {"generation": len(gens) - 1 - gens.index(gen), "snapid": gen.snapid, "name": gen.name,
                "isLinked": body["linked"], "isRestored": False, "isExpired": False,
                "linkedStorageGroup": body.get("linked_storage_group", []), "numSourceVolumes": len(gen.sources),
                "numStorageGroupVolumes": len(gen.sources), "numSharedTracks": 0,
                "numUniqueTracks": gen.non_shared_tracks, "state": body["state"],
                "timeToLiveExpiryDate": "N/A", "timestamp": body["timestamp"]}

    def _generation(self, gen: Generation) -> dict:
        links = [{"linkedCreationTimestamp": pmax_time(link.created), "linked_volume_name": target.id,
                  "name": link.sg, "percentageCopied": link.percent(i), "source_volume_name": source.id,
                  "trackSize": TRACK_BYTES, "tracks": source.capacity // TRACK_BYTES}
                 for link in gen.links for i, (source, target) in enumerate(link.pairs)]
        body = {"expired": False, "linked": bool(gen.links), "linked_storage_group": links,
                "linked_storage_group_names": [link.sg for link in gen.links], "name": gen.name,
                "non_shared_tracks": gen.non_shared_tracks, "num_source_volumes": len(gen.sources),
                "num_storage_group_volumes": len(gen.sources), "restored": False, "snapid": gen.snapid,
                "source_volume": [{"capacity": v.capacity // CYLINDER_BYTES, "capacity_gb": _gb(v.capacity),
                                   "name": v.id} for v in gen.sources],
                "state": list(gen.states), "time_to_live_expiry_date": "N/A", "timestamp": pmax_time(gen.created),
                "timestamp_utc": int(gen.created.timestamp() * 1000), "tracks": 0}
        if not gen.links:   # an unlinked generation has neither key [V: ansible-powermax SNAPSHOT_DETAILS_1]
            del body["linked_storage_group"], body["linked_storage_group_names"]
        return body

    @staticmethod
    def _async(request: HttpRequest) -> bool:
        return isinstance(request.body, dict) and request.body.get("executionOption") == "ASYNCHRONOUS"

    def _job(self, job: Job) -> dict:
        return {"jobId": job.id, "name": job.description, "status": job.status, "username": "flash4i",
                "last_modified_date": _job_time(job.completed or job.created),
                "scheduled_date": _job_time(job.created), "completed_date": _job_time(job.completed),
                "resourceLink": job.resource, "result": job.result,
                "task": [{"execution_order": 1, "description": job.description}]}

    def _run(self, request: HttpRequest, description: str, resource: str,
             action: Callable[[], List[Volume]], done: Callable[[], dict]) -> Reply:
        """Run ACTION now (200 with DONE's answer) or as a job (202) when the body asks for it."""
        if self._async(request):
            return Reply(202, self._job(self.array.submit(description, resource, action)))
        for target in action():
            self.world.volume_overwritten(target, f"SnapVX {description}")
        with self.array.lock:
            return Reply(200, done())

    def _establish(self, request: HttpRequest, sg: str) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        name = body.get("snapshotName")
        if not isinstance(name, str) or not name:
            raise PmaxError("bad_request", why="snapshotName is required")
        if self._async(request):
            def act() -> List[Volume]:
                self.array.establish(sg, name)
                return []              # establishing changes no target
            return Reply(202, self._job(self.array.submit(f"establish {name} on {sg}", f"storagegroup/{sg}", act)))
        gen = self.array.establish(sg, name)
        with self.array.lock:
            return Reply(200, self._generation(gen))

    def _modify(self, request: HttpRequest, gen: Generation, form: str) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        action = body.get("action")
        params = body.get(str(action).lower()) if isinstance(action, str) else None
        if action not in ("Link", "Relink", "Unlink") or not isinstance(params, dict):
            raise PmaxError("bad_request", why=f"action {action!r} is not supported (Link, Relink, Unlink)")
        # The generation form names the target linkStorageGroupName (relink..., unlink...).
        key = "storage_group_name" if form == "snapid" else f"{action.lower()}StorageGroupName"
        target = params.get(key)
        if not isinstance(target, str) or not target:
            raise PmaxError("bad_request", why=f"{action.lower()}.{key} is required")
        sg, name, snapid = gen.sg, gen.name, gen.snapid
        if action == "Unlink":
            def act() -> List[Volume]:
                self.array.unlink(sg, name, snapid, target)
                return []
        else:
            def act() -> List[Volume]:
                return self.array.link(sg, name, snapid, target, bool(params.get("copy", False)),
                                       relink=action == "Relink")
        return self._run(request, f"{action} {name} snapid {snapid} to {target}", f"storagegroup/{target}", act,
                         lambda: self._detail(self.array.generation(sg, name, snapid), form))

    def _terminate(self, gen: Generation) -> Reply:
        self.array.terminate(gen.sg, gen.name, gen.snapid)
        return Reply(204)
