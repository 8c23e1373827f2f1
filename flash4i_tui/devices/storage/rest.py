"""HTTPS for the REST storage families (DS8000, PowerMax), over `requests`.

One RestSession per device per run (a requests.Session: connections are reused). TLS is
verified by default, against the configured CA file or the system's CAs; it is switched off
only by the storage option `verify_tls: false`. Every request has a timeout, bounded by what
the caller still allows (a run step's bound). Every request and its answer go to the same
LogEvent sink as SSH commands, with the password and tokens redacted. The password is read
from the environment variable named in the configuration and never stored.

The session knows HTTP only: what an answer means (the DS8000 envelope, Unisphere messages)
is for the family's driver to say, which is why `send` takes a `judge` for the log.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote, urlencode

import requests

from ...errors import DeviceError, DeviceUnreachable, StepTimeout
from ..ssh import LogEvent, LogSink, _clip, _redact

_TEXT_SHOWN = 300               # characters of a bad answer quoted in an error


@dataclass(frozen=True)
class RestEndpoint:
    """Where and how to reach one REST device."""

    name: str                       # flash4i's name of the device
    base_url: str                   # https://host:port (no path)
    user: str
    password_env: Optional[str]     # the environment variable holding the password
    ca_file: Optional[str] = None   # PEM bundle to verify the device's certificate with
    verify_tls: bool = True
    timeout: float = 60.0           # seconds for one request (connect and read)
    connect_timeout: float = 15.0

    @classmethod
    def from_row(cls, name: str, host: str, port: int, user: str, auth: dict, options: Optional[dict],
                 timeout: Optional[float] = None) -> "RestEndpoint":
        options = options or {}
        return cls(name=name, base_url=f"https://{_url_host(host)}:{int(port)}", user=user,
                   password_env=(auth or {}).get("password_env"), ca_file=options.get("ca_file"),
                   verify_tls=bool(options.get("verify_tls", True)),
                   timeout=float(timeout or options.get("request_timeout") or 60.0))


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Request:
    """One request as a driver builds it: the same value is sent, logged and shown by `flash4i plan`."""

    method: str
    path: str                                       # absolute path, segments already quoted
    body: Optional[dict] = None
    query: Tuple[Tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")

    def line(self) -> str:
        text = f"{self.method} {self.target}"
        if self.body is not None:
            text += " " + json.dumps(self.body, separators=(",", ":"), sort_keys=False)
        return text


def segment(value: str) -> str:
    """A validated value as one URL path segment (quoted, so it can never add a segment)."""
    return quote(str(value), safe="")


@dataclass
class Answer:
    request: Request
    status: int
    text: str
    data: Any                        # the parsed JSON, or None when the body is empty or not JSON
    duration: float

    @property
    def json_ok(self) -> bool:
        return self.data is not None or not self.text.strip()


def bad_answer(device: str, request: Request, problem: str, text: Any, msg_id: Optional[str] = None) -> DeviceError:
    text = text if isinstance(text, str) else repr(text)
    shown = text if len(text) <= _TEXT_SHOWN else text[:_TEXT_SHOWN] + "..."
    return DeviceError(device, request.line(), f"unexpected answer: {problem}: {shown!r}", msg_id)


Judge = Callable[[Answer], bool]


class RestSession:
    """A lazily opened, re-usable HTTPS session to one device."""

    def __init__(self, endpoint: RestEndpoint, log: Optional[LogSink] = None,
                 limit: Optional[Callable[[], float]] = None):
        self.endpoint = endpoint
        self.log = log
        self.limit = limit              # seconds the caller still allows (a run step's bound), if any
        self.secrets: List[str] = []
        self._http: Optional[requests.Session] = None

    # ---------------------------------------------------------------- connection

    def password(self) -> str:
        name = self.endpoint.password_env
        if not name:
            raise DeviceUnreachable(self.endpoint.name, "authenticate",
                                    "no password_env in the configuration: the REST API needs a password")
        value = os.environ.get(name)
        if not value:
            raise DeviceUnreachable(self.endpoint.name, "authenticate",
                                    f"environment variable {name} (password_env) is not set")
        self.hide(value)
        return value

    def hide(self, secret: str) -> None:
        """Never let SECRET reach the log (a password, a token)."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def _verify(self) -> Any:
        ep = self.endpoint
        if not ep.verify_tls:
            return False
        if ep.ca_file:
            path = os.path.expanduser(ep.ca_file)
            if not os.path.isfile(path):
                raise DeviceUnreachable(ep.name, "connect", f"CA file {path} (ca_file) does not exist")
            return path
        return True

    def http(self) -> requests.Session:
        if self._http is None:
            session = requests.Session()
            session.verify = self._verify()
            session.trust_env = False        # no proxy or netrc from the environment in between
            self._http = session
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def remaining(self) -> float:
        return self.limit() if self.limit is not None else float("inf")

    # ---------------------------------------------------------------- requests

    def send(self, request: Request, headers: Optional[Dict[str, str]] = None, auth: Any = None,
             judge: Optional[Judge] = None, secrets_in: Optional[Callable[[Any], Sequence[str]]] = None,
             timeout: Optional[float] = None) -> Answer:
        """Send REQUEST; return the answer whatever its HTTP status. Raises DeviceUnreachable when
        no answer comes (connection, TLS) and StepTimeout when it does not come in time.
        SECRETS_IN names the secrets an answer carries (a token), hidden before it is logged."""
        ep = self.endpoint
        seconds = min(timeout or ep.timeout, ep.timeout)
        if self.limit is not None:
            seconds = max(0.5, min(seconds, self.limit()))
        body = None if request.body is None else json.dumps(request.body).encode()
        all_headers = {"Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        start = time.monotonic()
        try:
            response = self.http().request(request.method, ep.base_url + request.target, data=body,
                                           headers=all_headers, auth=auth, allow_redirects=False,
                                           timeout=(min(ep.connect_timeout, seconds), seconds))
        except requests.exceptions.SSLError as exc:
            self._failed(request, start, f"TLS: {exc}")
            raise DeviceUnreachable(ep.name, self._r(request.line()),
                                    f"the TLS certificate of {ep.base_url} is not trusted or TLS failed: {exc}; "
                                    "check ca_file (verification is never switched off silently)") from None
        except requests.exceptions.Timeout:
            self._failed(request, start, f"no answer within {seconds:.3g}s")
            raise StepTimeout(f"{ep.name}: request did not end within {seconds:.3g}s: "
                              f"{self._r(request.line())}") from None
        except requests.exceptions.RequestException as exc:
            self.close()
            self._failed(request, start, f"connection lost: {exc}")
            raise DeviceUnreachable(ep.name, self._r(request.line()), f"cannot reach {ep.base_url}: {exc}") from None
        text = response.text
        try:
            data = response.json() if text.strip() else None
        except (ValueError, RecursionError):     # not JSON, or nested past any real answer
            data = None
        answer = Answer(request, response.status_code, text, data, time.monotonic() - start)
        if secrets_in is not None and data is not None:
            try:
                for secret in secrets_in(data):
                    self.hide(str(secret))
            except (KeyError, TypeError, AttributeError):
                pass                   # an answer without the secret: the driver reports its shape
        ok = judge(answer) if judge is not None else 200 <= answer.status < 300
        self._emit(LogEvent(ep.name, self._r(request.line()), 0 if ok else answer.status,
                            self._r(f"HTTP {answer.status} {text.strip()}"), "", answer.duration))
        return answer

    def _failed(self, request: Request, start: float, error: str) -> None:
        self._emit(LogEvent(self.endpoint.name, self._r(request.line()), None, duration=time.monotonic() - start,
                            error=self._r(error)))

    def redact(self, text: str) -> str:
        """TEXT with every known secret replaced (for logs and error messages)."""
        return _clip(_redact(text, self.secrets))

    _r = redact

    def _emit(self, event: LogEvent) -> None:
        if self.log is not None:
            self.log(event)


class Fields:
    """Typed, strict access to one JSON object of an answer: a missing key or a value of another
    type raises DeviceError naming the request; nothing is ever defaulted silently."""

    def __init__(self, data: Any, device: str, request: Request, where: str = ""):
        if not isinstance(data, dict):
            raise bad_answer(device, request, f"{where or 'the answer'} is not a JSON object", repr(data))
        self.data, self.device, self.request, self.where = data, device, request, where

    def _bad(self, problem: str, value: Any) -> DeviceError:
        where = f"{self.where}." if self.where else ""
        return bad_answer(self.device, self.request, f"{where}{problem}", repr(value))

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise self._bad(f"missing field {key}", self.data)
        return self.data[key]

    def has(self, key: str) -> bool:
        return key in self.data

    def str(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._bad(f"field {key} is not text", value)
        return value

    def digits(self, key: str) -> int:
        """A whole number the device sends as text ("1073741824")."""
        value = self.str(key)
        if not value.isdigit() or not value.isascii():
            raise self._bad(f"field {key} is not a number", value)
        return int(value)

    def int(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(f"field {key} is not a whole number", value)
        return value

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(f"field {key} is not a number", value)
        return float(value)

    def bool(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._bad(f"field {key} is not true or false", value)
        return value

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.str(key)
        if value not in allowed:
            raise self._bad(f"unknown {key}", value)
        return value

    def list(self, key: str) -> list:
        value = self._get(key)
        if not isinstance(value, list):
            raise self._bad(f"field {key} is not a list", value)
        return value

    def strings(self, key: str) -> List[str]:
        values = self.list(key)
        if not all(isinstance(v, str) for v in values):
            raise self._bad(f"field {key} is not a list of text", values)
        return values

    def obj(self, key: str) -> "Fields":
        return Fields(self._get(key), self.device, self.request, f"{self.where}.{key}" if self.where else key)

    def items(self, key: str) -> List["Fields"]:
        where = f"{self.where}.{key}" if self.where else key
        return [Fields(item, self.device, self.request, f"{where}[{i}]") for i, item in enumerate(self.list(key))]
