"""The lab's control API (loopback HTTP, JSON): events, conflicts, state, fault rules, latency.

    GET    /events?since=N     events after sequence N
    GET    /conflicts          what a clone must never do (production's address or name ...)
    GET    /state              LPAR states, volumes, network owners
    GET    /pauses             production's pauses as the lab timed them (ground truth)
    PUT    /faults             replace the fault rules (YAML or JSON list in the body)
    DELETE /faults             clear the fault rules
    GET    /latency            the device latencies (rtt per device, command delays)
    PUT    /latency            replace them (YAML or JSON mapping in the body, see faults.Latency)
    DELETE /latency            back to zero
    GET    /stats              SSH handshakes (TLS connections) and commands counted per device
    DELETE /stats              reset those counts
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qs, urlparse

import yaml

from .faults import FaultRules, Latency
from .world import World


class ControlServer:
    def __init__(self, world: World, state: Callable[[], dict]):
        self.world = world
        self.state = state
        self.httpd: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:   # the lab prints its own events
                pass

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/events":
                    since = int(parse_qs(url.query).get("since", ["0"])[0])
                    with control.world.lock:
                        events = [e.as_dict() for e in control.world.events if e.seq > since]
                    self._send(200, {"events": events})
                elif url.path == "/conflicts":
                    with control.world.lock:
                        self._send(200, {"conflicts": [e.as_dict() for e in control.world.conflicts]})
                elif url.path == "/pauses":
                    with control.world.lock:
                        self._send(200, {"pauses": [p.as_dict() for p in control.world.pauses]})
                elif url.path == "/state":
                    self._send(200, control.state())
                elif url.path == "/latency":
                    self._send(200, control.world.latency.as_dict())
                elif url.path == "/stats":
                    self._send(200, control.world.stats.as_dict())
                else:
                    self._send(404, {"error": f"no such resource {url.path}"})

            def _yaml_body(self, parse, what: str):
                """The request's YAML body through PARSE; None (400 sent) when it is not valid."""
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0)).decode()
                try:
                    return parse(yaml.safe_load(body))
                except (ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
                    self._send(400, {"error": f"invalid {what}: {exc}"})
                    return None

            def do_PUT(self) -> None:
                path = urlparse(self.path).path
                if path == "/latency":
                    latency = self._yaml_body(Latency.parse, "latency")
                    if latency is None:
                        return
                    control.world.latency.replace(latency)
                    control.world.record("latency", f"latency replaced through the control API "
                                                    f"(rtt {latency.rtt or 0}, {len(latency.commands)} command delays)")
                    self._send(200, control.world.latency.as_dict())
                    return
                if path != "/faults":
                    self._send(404, {"error": "no such resource"})
                    return
                rules = self._yaml_body(lambda data: FaultRules.parse(data or []), "fault rules")
                if rules is None:
                    return
                control.world.faults.replace(rules)
                control.world.record("fault", f"fault rules replaced through the control API ({len(rules.rules)} "
                                              f"rules, {len(rules.stalls)} IPL stalls)")
                self._send(200, {"rules": len(rules.rules), "ipl_stalls": len(rules.stalls)})

            def do_DELETE(self) -> None:
                path = urlparse(self.path).path
                if path == "/latency":
                    control.world.latency.clear()
                    control.world.record("latency", "latency cleared through the control API")
                    self._send(200, control.world.latency.as_dict())
                    return
                if path == "/stats":
                    control.world.stats.reset()
                    self._send(200, control.world.stats.as_dict())
                    return
                if urlparse(self.path).path != "/faults":
                    self._send(404, {"error": "no such resource"})
                    return
                control.world.faults.clear()
                control.world.record("fault", "fault rules cleared through the control API")
                self._send(200, {"rules": 0})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="lab-control", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
