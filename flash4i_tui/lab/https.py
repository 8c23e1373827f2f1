"""HTTPS for the lab's REST devices (DS8000, PowerMax): a small CA and server certificate, and a
threaded JSON server on 127.0.0.1 that REST fronts build on.

- TLS material is created once in the lab's state folder (lab-ca.pem, lab-server.pem,
  lab-server.key) and reused, so a configuration written earlier (ca_file) stays valid.
- Connections are accepted from 127.0.0.1 only; the TLS handshake runs in the connection's
  thread, so a client that never completes it blocks nobody.
- Fault rules apply here, uniformly, to "<METHOD> <path>": fail with the device's own error
  envelope and HTTP status, hang, or drop the connection without an answer; so do the
  latency rules' command delays (world.latency), and the world counts connections and requests.
- Nothing is logged but world events, and those never carry a password, a token or a header.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from ..paths import write_private
from .faults import Fault

log = logging.getLogger("flash4i.lab")

CERT_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path          # what a client trusts (the storage option ca_file)
    cert: Path             # the server certificate (127.0.0.1, localhost), signed by the CA
    key: Path


def load_or_create_tls(folder: Path) -> TlsFiles:
    """The lab's CA and server certificate in FOLDER: created once, reused on every start."""
    files = TlsFiles(folder / "lab-ca.pem", folder / "lab-server.pem", folder / "lab-server.key")
    if files.ca_cert.exists() and files.cert.exists() and files.key.exists():
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flash4i lab CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    write_private(files.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()).decode())
    files.cert.write_text(cert.public_bytes(pem).decode())
    files.ca_cert.write_text(ca_cert.public_bytes(pem).decode())
    return files


@dataclass
class HttpRequest:
    method: str
    path: str                               # decoded, without the query
    parts: List[str]                        # the path's segments, decoded
    query: Dict[str, List[str]]
    headers: Any                            # email.message.Message (case-insensitive)
    body: Optional[Any]                     # parsed JSON, or None
    raw: bytes = b""


@dataclass
class Reply:
    status: int
    body: Optional[Any] = None              # JSON-able; None: no body
    headers: Dict[str, str] = field(default_factory=dict)


class BadJson(Exception):
    """The request body is not JSON."""


@dataclass(frozen=True)
class Route:
    """One line of a REST front's route table: METHOD and PATTERN (path segments; `{name}` takes
    any one segment, `{name:a,b}` one of those words) -> the front's method HANDLER, called with
    the request and the named segments. The fronts hold the array's lock around a GET (a listing
    is one consistent picture); a change locks in the model."""

    method: str
    pattern: str
    handler: str

    def match(self, method: str, parts: List[str]) -> Optional[Dict[str, str]]:
        segments = self.pattern.split("/") if self.pattern else []
        if method != self.method or len(segments) != len(parts):
            return None
        found: Dict[str, str] = {}
        for segment, part in zip(segments, parts):
            if segment.startswith("{"):
                name, _, words = segment[1:-1].partition(":")
                if words and part not in words.split(","):
                    return None
                found[name] = part
            elif segment != part:
                return None
        return found


def route(table: Tuple[Route, ...], method: str, parts: List[str]) -> Optional[Tuple[Route, Dict[str, str]]]:
    """The first route of TABLE for METHOD and the path PARTS, with its named segments; None if none."""
    for entry in table:
        found = entry.match(method, parts)
        if found is not None:
            return entry, found
    return None


class HttpsFront:
    """Base of the lab's REST fronts. Subclasses implement `handle` and `fault_reply`."""

    label = "rest"                           # fault-rule device names are "<label>:<array name>"

    def __init__(self, world: Any, name: str, tls: TlsFiles, port: int = 0, bind: str = "127.0.0.1"):
        self.world, self.name, self.tls = world, name, tls
        self.bind, self.requested_port = bind, port
        self.port: Optional[int] = None
        self.httpd: Optional[ThreadingHTTPServer] = None
        self._stop = threading.Event()

    @property
    def device(self) -> str:
        return f"{self.label}:{self.name}"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- to override

    def handle(self, request: HttpRequest) -> Reply:
        raise NotImplementedError

    def fault_reply(self, fault: Fault) -> Reply:
        """A failure injected by a fault rule, in the device's own error form."""
        raise NotImplementedError

    def bad_json(self, request: HttpRequest) -> Reply:
        return Reply(400, {"message": "the request body is not JSON"})

    # ---------------------------------------------------------------- serving

    def start(self) -> int:
        front = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.tls.cert), str(self.tls.key))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address) -> bool:   # loopback clients only
                return ipaddress.ip_address(client_address[0]).is_loopback

            def finish_request(self, request, client_address) -> None:
                try:
                    request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no 40 ms Nagle stalls
                    request.settimeout(10)
                    tls = context.wrap_socket(request, server_side=True)
                    tls.settimeout(None)
                except (ssl.SSLError, OSError):
                    request.close()           # a client that does not trust us, or not TLS at all
                    return
                front.world.stats.handshake(front.device)       # a TLS connection made
                try:
                    Handler(tls, client_address, self)
                finally:
                    front.world.stats.closed(front.device)
                    try:
                        tls.close()
                    except OSError:
                        pass

            def shutdown_request(self, request) -> None:
                try:
                    request.close()
                except OSError:
                    pass

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "flash4i-lab"

            def log_message(self, *args) -> None:    # the lab records its own events, never headers
                pass

            def do_GET(self) -> None:
                front._serve(self, "GET")

            def do_POST(self) -> None:
                front._serve(self, "POST")

            def do_PUT(self) -> None:
                front._serve(self, "PUT")

            def do_DELETE(self) -> None:
                front._serve(self, "DELETE")

        self.httpd = Server((self.bind, self.requested_port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"lab-{self.label}-{self.name}", daemon=True).start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        path = unquote(url.path)
        request = HttpRequest(method, path, [unquote(p) for p in url.path.split("/") if p],
                              parse_qs(url.query), handler.headers, None, raw)
        fault = self.world.faults.check(self.device, f"{method} {path}")
        delay = self.world.latency.delay(self.device, f"{method} {path}")
        self.world.stats.command(self.device, f"{method} {path}")
        try:
            if fault is not None and fault.action == "drop":
                self.world.record("fault", f"{self.device}: dropped the connection on {method} {path}")
                self._drop(handler)
                return
            if fault is not None and fault.action == "hang":
                self.world.record("fault", f"{self.device}: hanging on {method} {path}")
                if not self.world.clock.sleep(fault.seconds if fault.seconds is not None else 10 ** 9) \
                        or self._stop.is_set():
                    self._drop(handler)
                    return
            if fault is not None and fault.action == "fail":
                self.world.record("fault", f"{self.device}: failing {method} {path}: {fault.message}")
                reply = self.fault_reply(fault)
            elif fault is not None and fault.action == "ignore":
                self.world.record("fault", f"{self.device}: answered {method} {path} without doing it")
                reply = Reply(200, {})
            else:
                if delay is not None and delay.effect == "end":       # the array works, then acts
                    self.world.wait_real(delay.seconds)
                try:
                    request.body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                    reply = self.handle(request)
                except (ValueError, UnicodeDecodeError):
                    reply = self.bad_json(request)
                if delay is not None and delay.effect == "start":     # it acts, then answers
                    self.world.wait_real(delay.seconds)
        except Exception as exc:        # a bug in a model must not kill the server silently
            log.exception("lab %s: %s %s failed", self.device, method, path)
            reply = Reply(500, {"message": f"lab internal error: {type(exc).__name__}: {exc}"})
        self._send(handler, reply)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            if data:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def fault_code(message: str, pattern: str) -> Tuple[str, str]:
    """(code, text) of a fault rule's message 'CODE text' when CODE matches PATTERN; else ('', message)."""
    head, _, rest = message.partition(" ")
    if re.fullmatch(pattern, head):
        return head, rest.strip()
    return "", message


def http_status(fault: Fault, default: int) -> int:
    """A fault rule's exit_status names the HTTP status when it is one (100-599)."""
    return fault.exit_status if 100 <= fault.exit_status <= 599 else default
