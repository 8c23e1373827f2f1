"""A REST lab array (DS8000 or PowerMax) on 127.0.0.1 over HTTPS for driver tests, and a fake
session that answers scripted text (for strict-parsing tests without a server)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from flash4i_tui.devices.ssh import LogEvent
from flash4i_tui.devices.storage.rest import Answer, Request, RestEndpoint, RestSession
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.https import load_or_create_tls
from flash4i_tui.lab.world import World

PASSWORD_ENV = "FLASH4I_TEST_REST_PASSWORD"


class RestLab:
    """One array built by BUILD from ENTRY, its HTTPS front started, a CA in TMP."""

    def __init__(self, tmp: Path, build: Callable[[World, dict], Any], front_class: type, entry: dict,
                 speed: float = 200.0):
        self.world = World(speed=speed)
        self.entry = copy.deepcopy(entry)
        self.array = build(self.world, self.entry)
        self.tls = load_or_create_tls(tmp / "tls")
        self.front = front_class(self.array, self.tls)
        self.world.start()
        self.port = self.front.start()
        self.user, self.password = next(iter(self.entry["users"].items()))
        self.log: List[LogEvent] = []

    def endpoint(self, ca_file: Optional[str] = None, verify_tls: bool = True, timeout: float = 10.0) -> RestEndpoint:
        return RestEndpoint(self.array.name, f"https://127.0.0.1:{self.port}", self.user, PASSWORD_ENV,
                            ca_file if ca_file is not None else str(self.tls.ca_cert), verify_tls, timeout, 5.0)

    def session(self, **kwargs: Any) -> RestSession:
        return RestSession(self.endpoint(**kwargs), log=self.log.append)

    def sent(self) -> List[str]:
        return [event.command for event in self.log]

    def faults(self, *rules: dict) -> None:
        self.world.faults.replace(FaultRules.parse(list(rules)))

    def close(self) -> None:
        self.front.stop()
        self.world.stop()


class FakeRest:
    """A RestSession stand-in: ANSWER(request) -> (HTTP status, body text); records what was sent."""

    def __init__(self, answer: Callable[[Request], tuple], user: str = "flash4i"):
        self.answer, self.sent = answer, []
        self.endpoint = RestEndpoint("FAKE", "https://127.0.0.1:1", user, PASSWORD_ENV)

    def password(self) -> str:
        return "secret"

    def redact(self, text: str) -> str:
        return text.replace("secret", "***")

    def remaining(self) -> float:
        return float("inf")

    def send(self, request: Request, **kwargs: Any) -> Answer:
        import json
        self.sent.append(request.line())
        status, text = self.answer(request)
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        return Answer(request, status, text, data, 0.0)

    def close(self) -> None:
        pass


def answers(table: Dict[str, Any], default: Optional[tuple] = None) -> Callable[[Request], tuple]:
    """Answer by the first key found in '<METHOD> <path>' (a tuple, or a function of the request)."""
    def answer(request: Request) -> tuple:
        line = f"{request.method} {request.target}"
        for key, value in table.items():
            if key in line:
                return value(request) if callable(value) else value
        if default is None:
            raise AssertionError(f"no scripted answer for {line}")
        return default
    return answer
