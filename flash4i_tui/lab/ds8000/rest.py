"""The DS8000 REST front (reference §2.3) over HTTPS: https://127.0.0.1:<port>/api/v1/...

    POST   /tokens                              {"request":{"params":{"username","password"}}}
    GET    /systems                             the storage image and its code level (release, bundle)
    GET    /volumes  /volumes/{id}  /volumes/{id}/flashcopy   (the older per-volume form)
    GET    /hosts    /hosts/{name}/mappings
    POST   /hosts/{name}/mappings               {"volumes":[id]} | {"mappings":[{"lunid","volume"}]}
    DELETE /hosts/{name}/mappings/{lunid}
    GET    /cs/flashcopies  /cs/flashcopies/{SSSS:TTTT}
    POST   /cs/flashcopies                      {"volume_pairs":[...],"options":[...]}
    DELETE /cs/flashcopies/{SSSS:TTTT}
    POST   /cs/flashcopies/unfreeze             {"lss_ids":[...]}

Every answer carries the `server` envelope; every request but the token one needs a valid
X-Auth-Token. Relationship fields beyond those of the reference (backgroundcopy, persistent,
recording, date_created) are [R], from the lsflash -l columns. The front routes from its
table ROUTES (method, path pattern -> handler), as the SVC CLI front does from its VERBS.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..blockarray import Host, Volume
from ..faults import Fault
from ..https import HttpRequest, HttpsFront, Reply, Route, TlsFiles, fault_code, http_status, route
from .errors import CODE_PATTERN, SUCCESS, Ds8kError
from .model import Ds8kArray, Relationship, ds_time

API = ("api", "v1")


def _ok(**data: Any) -> dict:
    return dict({"server": {"status": "ok", "code": "", "message": SUCCESS}}, **data)


def _listing(kind: str, items: List[dict]) -> dict:
    return _ok(counts={"data_counts": len(items), "total_counts": len(items)}, data={kind: items})


# The REST API under /api/v1 (after POST tokens), as (method, path pattern) -> handler.
ROUTES = (
    Route("GET", "volumes", "_get_volumes"),
    Route("GET", "volumes/{volume}", "_get_volume"),
    Route("GET", "volumes/{volume}/flashcopy", "_get_volume_flashcopy"),
    Route("GET", "systems", "_get_systems"),
    Route("GET", "hosts", "_get_hosts"),
    Route("GET", "hosts/{host}/mappings", "_get_mappings"),
    Route("POST", "hosts/{host}/mappings", "_map"),
    Route("DELETE", "hosts/{host}/mappings/{lunid}", "_unmap"),
    Route("GET", "cs/flashcopies", "_flashcopies"),
    Route("GET", "cs/flashcopies/{rel}", "_get_flashcopy"),
    Route("POST", "cs/flashcopies", "_create"),
    Route("POST", "cs/flashcopies/unfreeze", "_unfreeze"),
    Route("DELETE", "cs/flashcopies/{rel}", "_delete"),
)


class Ds8000Front(HttpsFront):
    label = "ds8000"

    def __init__(self, array: Ds8kArray, tls: TlsFiles, port: int = 0):
        super().__init__(array.world, array.name, tls, port)
        self.array = array

    # ---------------------------------------------------------------- the envelope

    def fault_reply(self, fault: Fault) -> Reply:
        code, text = fault_code(fault.message, CODE_PATTERN)
        body = {"server": {"status": "failed", "code": code, "message": text or "Operation failed."}}
        return Reply(http_status(fault, 200), body)

    def bad_json(self, request: HttpRequest) -> Reply:
        error = Ds8kError("bad_parameter", what="request body", why="it is not JSON")
        return Reply(error.status, error.envelope())

    def _link(self, *parts: str) -> dict:
        return {"rel": "self", "href": "/".join([self.url, *API, *parts])}

    def handle(self, request: HttpRequest) -> Reply:
        parts = request.parts
        try:
            if tuple(parts[:2]) != API:
                raise Ds8kError("bad_request", path=request.path, method=request.method)
            route = parts[2:]
            if request.method == "POST" and route == ["tokens"]:
                return self._token(request)
            self.array.check_token(request.headers.get("X-Auth-Token"))
            return Reply(200, self._route(request, route))
        except Ds8kError as error:
            return Reply(error.status, error.envelope())

    @staticmethod
    def _params(request: HttpRequest) -> Dict[str, Any]:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("request"), dict) or \
                not isinstance(body["request"].get("params"), dict):
            raise Ds8kError("bad_parameter", what="request", why='the body is not {"request":{"params":{...}}}')
        return body["request"]["params"]

    def _token(self, request: HttpRequest) -> Reply:
        params = self._params(request)
        token, entry = self.array.login(str(params.get("username") or ""), str(params.get("password") or ""))
        self.world.record("device", f"{self.name}: user {entry.user} logged in")      # never the token
        expires = ds_time(entry.created.replace(microsecond=0))
        return Reply(200, _ok(token={"token": token, "expired_time": expires,
                                     "max_idle_interval": str(int(self.array.TOKEN_IDLE_SECONDS * 1000))}))

    def _route(self, request: HttpRequest, parts: List[str]) -> dict:
        found = route(ROUTES, request.method, parts)
        if found is None:
            raise Ds8kError("bad_request", path=request.path, method=request.method)
        entry, segments = found
        answer = getattr(self, entry.handler)
        if request.method != "GET":
            return answer(request, **segments)      # the model locks; a flash calls the world outside its lock
        with self.array.lock:                       # a listing is one consistent picture
            return answer(request, **segments)

    # ---------------------------------------------------------------- the routes' handlers

    def _get_volumes(self, request: HttpRequest) -> dict:
        return _listing("volumes", [self._volume(v) for v in self._volumes()])

    def _get_volume(self, request: HttpRequest, volume: str) -> dict:
        return _listing("volumes", [self._volume(self.array._need_volume(volume))])

    def _get_volume_flashcopy(self, request: HttpRequest, volume: str) -> dict:
        return _listing("flashcopy", self._volume_rels(self.array._need_volume(volume)))

    def _get_systems(self, request: HttpRequest) -> dict:
        return _listing("systems", [self._system()])

    def _get_hosts(self, request: HttpRequest) -> dict:
        return _listing("hosts", [self._host(h) for h in self._hosts()])

    def _get_mappings(self, request: HttpRequest, host: str) -> dict:
        return _listing("mappings", self._mappings(host))

    def _get_flashcopy(self, request: HttpRequest, rel: str) -> dict:
        return _listing("flashcopy", [self._rel(self._need_rel(rel))])

    # ---------------------------------------------------------------- volumes and hosts

    def _volumes(self) -> List[Volume]:
        return [self.array.volumes[k] for k in sorted(self.array.volumes)]

    def _hosts(self) -> List[Host]:
        return sorted(self.array.hosts.values(), key=lambda h: h.id)

    def _volume(self, v: Volume) -> dict:
        real = v.used_bytes if v.thin else v.capacity
        return {"id": v.id, "link": self._link("volumes", v.id), "name": v.nickname, "state": "normal",
                "cap": str(v.capacity), "real_cap": str(real), "virtual_cap": str(v.capacity), "captype": "bytes",
                "stgtype": "fb", "VOLSER": "", "lss": {"id": v.lss, "link": self._link("lss", v.lss)},
                "allocmethod": "extent", "tp": "ese" if v.thin else "none", "capalloc": str(real),
                "MTM": self.array.MTM, "datatype": "FB 520P", "easytier": "managed",
                "tieralloc": [{"tier": "FlashTier0", "allocated": str(real)}],
                "pool": {"id": v.pool, "link": self._link("pools", v.pool)}, "wwn": v.uid}

    def _system(self) -> dict:
        a = self.array
        serial = a.image.rsplit("-", 1)[-1]              # IBM.2107-75FA120 -> 75FA120
        total = sum(v.capacity for v in a.volumes.values()) // 1024 ** 3
        return {"id": a.image.replace("IBM.", ""), "name": a.name, "state": "online", "release": a.release,
                "bundle": a.bundle, "MTM": a.MTM, "sn": serial, "wwnn": f"5005076303FF{a._code:04X}",
                "cap": str(total), "capalloc": str(total), "capavail": "0", "capraw": str(total * 1024 ** 3)}

    def _volume_rels(self, v: Volume) -> List[dict]:
        """The older per-volume relationship form [V: pyds8k test/mock/flashcopy.py; cinder TEST_FLASHCOPY]."""
        enabled = {True: "enabled", False: "disabled"}
        return [{"sourcevolume": {"id": r.source.id, "link": self._link("volumes", r.source.id)},
                 "targetvolume": {"id": r.target.id, "link": self._link("volumes", r.target.id)},
                 "persistent": enabled[r.persistent], "recording": enabled[r.recording],
                 "backgroundcopy": enabled[r.background], "state": r.state}
                for r in sorted(self.array.relationships.values(), key=lambda r: r.id) if v in (r.source, r.target)]

    def _host(self, h: Host) -> dict:
        return {"name": h.name, "state": "online", "hosttype": "iSeries", "addrmode": "SCSI mask",
                "addrdiscovery": "Report LUNs", "lbs": "520", "link": self._link("hosts", h.name),
                "host_ports": {"link": self._link("host_ports")}, "ioports": {"link": self._link("ioports")},
                "volumes": {"link": self._link("volumes")}}          # [V: pyds8k test/mock/hosts.py]

    def _mappings(self, host_name: str) -> List[dict]:
        host = self.array._need_host(host_name)
        return [{"lunid": f"{lun:02X}", "volume": {"id": v.id, "link": self._link("volumes", v.id)},
                 "link": self._link("hosts", host.name, "mappings", f"{lun:02X}")}
                for lun, v in sorted(host.mappings.items())]

    def _map(self, request: HttpRequest, host: str) -> dict:
        params = self._params(request)
        asked: List[Tuple[Optional[int], str]] = []
        if isinstance(params.get("volumes"), list):
            asked = [(None, str(v)) for v in params["volumes"]]
        elif isinstance(params.get("mappings"), list):
            for item in params["mappings"]:
                try:
                    asked.append((int(str(item["lunid"]), 16), str(item["volume"])))
                except (KeyError, TypeError, ValueError):
                    raise Ds8kError("bad_parameter", what="mappings", why="each needs a hexadecimal lunid and a "
                                                                          "volume") from None
        if not asked:
            raise Ds8kError("bad_parameter", what="volumes", why="no volume to map")
        responses = []
        for lun, vid in asked:
            lun = self.array.map_volume(host, vid, lun)
            responses.append(_ok(link=self._link("hosts", host, "mappings", f"{lun:02X}")))
        return _ok(responses=responses)

    def _unmap(self, request: HttpRequest, host: str, lunid: str) -> dict:
        try:
            lun = int(lunid, 16)
        except ValueError:
            raise Ds8kError("not_found", what="mapping", id=f"{host}/{lunid}") from None
        self.array.unmap_volume(host, lun)
        return _ok()

    # ---------------------------------------------------------------- FlashCopy

    def _need_rel(self, rel_id: str) -> Relationship:
        rel = self.array.relationships.get(rel_id)
        if rel is None:
            raise Ds8kError("not_found", what="FlashCopy", id=rel_id)
        return rel

    def _rel(self, r: Relationship) -> dict:
        enabled = {True: "enabled", False: "disabled"}
        return {"id": r.id, "link": self._link("cs", "flashcopies", r.id),
                "source_volume": {"id": r.source.id, "link": self._link("volumes", r.source.id)},
                "target_volume": {"id": r.target.id, "link": self._link("volumes", r.target.id)},
                "out_of_sync_tracks": str(r.out_of_sync), "state": r.state,
                "persistent": enabled[r.persistent], "recording": enabled[r.recording],
                "backgroundcopy": enabled[r.background], "date_created": ds_time(r.created)}

    def _flashcopies(self, request: HttpRequest) -> dict:
        rels = sorted(self.array.relationships.values(), key=lambda r: r.id)
        low = (request.query.get("volume_id_from") or [None])[0]
        high = (request.query.get("volume_id_to") or [None])[0]
        if low or high:   # [U] the range applies to either volume of a relationship
            lo, hi = (low or "0000").upper(), (high or "FFFF").upper()
            rels = [r for r in rels if lo <= r.source.id <= hi or lo <= r.target.id <= hi]
        return _listing("flashcopy", [self._rel(r) for r in rels])

    def _create(self, request: HttpRequest) -> dict:
        params = self._params(request)
        raw_pairs, options = params.get("volume_pairs"), params.get("options", [])
        if not isinstance(raw_pairs, list) or not isinstance(options, list):
            raise Ds8kError("bad_parameter", what="volume_pairs", why="volume_pairs and options must be lists")
        pairs = []
        for item in raw_pairs:
            if not isinstance(item, dict) or not isinstance(item.get("source_volume"), str) or \
                    not isinstance(item.get("target_volume"), str):
                raise Ds8kError("bad_parameter", what="volume_pairs",
                                why="each pair needs source_volume and target_volume")
            pairs.append((item["source_volume"].upper(), item["target_volume"].upper()))
        created = self.array.create_flashcopies(pairs, [str(o) for o in options])
        return _ok(responses=[_ok(link=self._link("cs", "flashcopies", r.id)) for r in created])

    def _unfreeze(self, request: HttpRequest) -> dict:
        lss_ids = self._params(request).get("lss_ids")
        if not isinstance(lss_ids, list) or not lss_ids:
            raise Ds8kError("bad_parameter", what="lss_ids", why="a list of LSS ids is needed")
        self.array.unfreeze([str(x).upper() for x in lss_ids])
        return _ok()

    def _delete(self, request: HttpRequest, rel: str) -> dict:
        self.array.delete_flashcopy(rel.upper())
        return _ok()
