"""`flash4i serve`: the same 5250-style panels in a browser, through textual-serve.

Each browser session gets its own `flash4i tui` process (textual-serve's model: one process per
websocket), on the same store, as the same user, with the same rights as a terminal session.
Those processes queue runs and make sure a worker runs them, as the terminal does: runs execute
in the worker (its own session, detached), never in this web process nor in a panel process, so
closing the browser tab changes nothing. This process imports no Textual and talks to no device.

Security, in this order:

- It binds to 127.0.0.1 by default. From another machine, the documented way is an SSH tunnel
  (`ssh -L 8000:127.0.0.1:8000 HOST`); `--host ADDRESS` that is not loopback is refused unless
  TLS is on (`--tls-cert`, `--tls-key`).
- A token is generated at start and printed once, in the address to open. This process keeps
  only its SHA-256: not in the store, in no file, not in the environment nor on the command line
  of the panel processes (they never need it). The first request brings it as `?token=`; the
  answer sets a session cookie (random, HttpOnly, SameSite=Lax, Secure under TLS; only its hash is
  kept, in memory) and redirects to the same address without the token. Every request without a
  valid session (the page, its static files, the websocket) gets 403; a websocket must also come
  from the page's own origin.
- The access log writes the method, the path without its query and the status: never a token.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import shlex
import signal
import sys
from typing import Any, Dict, List, Optional, Set
from urllib.parse import urlencode, urlsplit

from flash4i_tui.errors import ValidationError

log = logging.getLogger("flash4i.serve")

SESSION_COOKIE = "flash4i_session"
TOKEN_PARAM = "token"

# The function keys a browser keyboard sends through xterm.js, and the sequence each legend button
# sends. F13-F24 are Shift+F1..F12 (xterm's CSI 1;2 P.. / CSI n;2 ~), which the panels bind as
# `f13,shift+f1` ...; Shift+F3 is the exception: its CSI 1;2 R reads as a cursor position report,
# so the page sends F15's own sequence (CSI 28 ~) for it.
FKEY_SEQUENCES = {
    1: "\x1bOP", 2: "\x1bOQ", 3: "\x1bOR", 4: "\x1bOS", 5: "\x1b[15~", 6: "\x1b[17~", 7: "\x1b[18~",
    8: "\x1b[19~", 9: "\x1b[20~", 10: "\x1b[21~", 11: "\x1b[23~", 12: "\x1b[24~",
    13: "\x1b[1;2P", 14: "\x1b[1;2Q", 15: "\x1b[28~", 16: "\x1b[1;2S", 17: "\x1b[15;2~", 18: "\x1b[17;2~",
    19: "\x1b[18;2~", 20: "\x1b[19;2~", 21: "\x1b[20;2~", 22: "\x1b[21;2~", 23: "\x1b[23;2~", 24: "\x1b[24;2~",
}
KEY_HINTS = ("F13-F24 = Shift+F1..F12, as on the terminal",
             "Esc = F12   Page Down / Page Up = Roll up / Roll down   or click a key")


# ------------------------------------------------------------------ the token

def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class TokenGate:
    """The access check: the token's SHA-256 and the hashes of the sessions it opened, in memory."""

    def __init__(self, token_hash: bytes):
        self._token_hash = token_hash
        self._sessions: Set[bytes] = set()

    @classmethod
    def generate(cls) -> "tuple[TokenGate, str]":
        """A new gate and its token (the caller prints the token once and keeps no copy)."""
        token = secrets.token_urlsafe(32)
        return cls(_digest(token)), token

    def token_ok(self, candidate: Optional[str]) -> bool:
        return bool(candidate) and hmac.compare_digest(_digest(candidate), self._token_hash)

    def open_session(self) -> str:
        key = secrets.token_urlsafe(32)
        self._sessions.add(_digest(key))
        return key

    def session_ok(self, candidate: Optional[str]) -> bool:
        return bool(candidate) and _digest(candidate) in self._sessions


# ------------------------------------------------------------------ the page

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<link rel="stylesheet" href="static/css/xterm.css">
<script src="static/js/textual.js"></script>
<style nonce="{{ nonce }}">
  @font-face { font-family: "Roboto Mono"; src: url("static/fonts/RobotoMono-VariableFont_wght.ttf"); }
  html, body { margin: 0; padding: 0; background: #000000; color: #00ff00; overflow: hidden; }
  html body div#terminal.textual-terminal { width: 100vw; height: calc(100vh - 4.2em); opacity: 0; }
  body.-first-byte div#terminal.textual-terminal { opacity: 1; }
  #keys { height: 4.2em; box-sizing: border-box; padding: 0.2em 0.5em; font: 13px "Roboto Mono", monospace;
          border-top: 1px solid #005f00; background: #000000; }
  #keys .row { white-space: nowrap; overflow: hidden; }
  #keys button { font: inherit; color: #8787ff; background: #000000; border: 1px solid #303030;
                 margin: 0 0.15em 0.15em 0; padding: 0 0.35em; cursor: pointer; }
  #keys button:hover { color: #ffffff; border-color: #8787ff; }
  #keys .hint { color: #00ff00; white-space: pre; margin-left: 1em; }
  #ended { display: none; position: absolute; top: 40%; width: 100%; text-align: center;
           font: 16px "Roboto Mono", monospace; }
  body.-closed #ended { display: block; }
  #ended button { font: inherit; color: #000000; background: #00ff00; border: 0; padding: 0.3em 1em; }
</style>
</head>
<body>
<div id="terminal" class="textual-terminal" data-font-size="{{ font_size }}"></div>
<div id="ended">Session ended. The runs go on in the worker.
  <button type="button" id="reconnect">Reconnect</button></div>
<div id="keys" aria-label="Function keys">
  <div class="row">{% for n in range(1, 13) %}<button type="button" data-key="{{ n }}" title="F{{ n }}">F{{ n }}</button>{% endfor %}
    <span class="hint">{{ hints[0] }}</span></div>
  <div class="row">{% for n in range(13, 25) %}<button type="button" data-key="{{ n }}" title="F{{ n }} = Shift+F{{ n - 12 }}">F{{ n }}</button>{% endfor %}
    <span class="hint">{{ hints[1] }}</span></div>
</div>
<script nonce="{{ nonce }}">
(function () {
  "use strict";
  var SEQ = {{ sequences | tojson }};
  var term = document.getElementById("terminal");
  // The websocket of this page's own origin (works through an SSH tunnel or a proxy).
  var ws = new URL("ws", location.href);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  ws.search = "";
  term.dataset.sessionWebsocketUrl = ws.href;
  var Native = window.WebSocket, current = null;
  window.WebSocket = function (url, protocols) {
    current = protocols === undefined ? new Native(url) : new Native(url, protocols);
    return current;
  };
  window.WebSocket.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { window.WebSocket[k] = Native[k]; });
  function send(number) {
    if (current && current.readyState === Native.OPEN) {
      current.send(JSON.stringify(["stdin", SEQ[String(number)]]));
    }
  }
  function refocus() {
    var field = document.querySelector(".xterm-helper-textarea");
    if (field) { field.focus(); }
  }
  document.querySelectorAll("#keys button").forEach(function (button) {
    button.addEventListener("mousedown", function (event) { event.preventDefault(); });
    button.addEventListener("click", function () { send(button.dataset.key); refocus(); });
  });
  // Shift+F3 (F15): xterm's sequence for it reads as a cursor position report; send F15's own.
  window.addEventListener("keydown", function (event) {
    if (event.key === "F3" && event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation();
      send(15);
    }
  }, true);
  document.getElementById("reconnect").addEventListener("click", function () { location.reload(); });
})();
</script>
</body>
</html>
"""

REFUSED = ("403 Forbidden: this flash4i serve needs its token. Open the address that `flash4i serve` "
           "printed when it started (http(s)://HOST:PORT/?token=...).\n")


# ------------------------------------------------------------------ the server

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def panel_command() -> str:
    """What textual-serve runs for each browser session: the terminal's own `flash4i tui`.
    Nothing secret is on it: the store URL reaches the panels in their environment."""
    return shlex.join([sys.executable, "-m", "flash4i_tui", "tui"])


def make_server(gate: TokenGate, db_url: str, host: str = "127.0.0.1", port: int = 8000,
                ssl_context: Any = None, title: str = "flash4i", command: Optional[str] = None,
                panel_env: Optional[Dict[str, str]] = None) -> Any:
    """A textual-serve Server for the panels, with the token gate in front of every route.

    Built here (not at import) so `flash4i --help` never loads aiohttp."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from aiohttp.abc import AbstractAccessLogger
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class AccessLog(AbstractAccessLogger):
        """Method, path (never the query: a first request carries the token there) and status."""

        def log(self, request, response, time):  # noqa: A002  (aiohttp's signature)
            self.logger.info("%s %s %s %s %.3fs", request.remote, request.method, request.path,
                             response.status, time)

    class PanelService(AppService):
        """One browser session's `flash4i tui`, with the store URL in its environment."""

        def _build_environment(self, width: int = 80, height: int = 24) -> Dict[str, str]:
            env = super()._build_environment(width=width, height=height)
            env.update(panel_env or {})
            env["FLASH4I_DB"] = db_url
            return env

    class PanelServer(Server):
        def __init__(self) -> None:
            scheme = "https" if ssl_context is not None else "http"
            super().__init__(command or panel_command(), host=host, port=port, title=title,
                             public_url=f"{scheme}://{host}:{port}")
            self.ssl_context = ssl_context
            self.gate = gate
            self.sockets: Set[Any] = set()
            self.addresses: List[Any] = []

        def initialize_logging(self) -> None:
            # Plain lines on stderr; never a traceback with local variables (a request's token).
            logging.basicConfig(level="DEBUG" if self.debug else "INFO",
                                format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

        # ---- the gate
        @web.middleware
        async def gate_middleware(self, request, handler):
            token = request.query.get(TOKEN_PARAM)
            if token is not None:
                if not self.gate.token_ok(token):
                    return self.refuse(request, "a wrong token")
                # The token opens a session; the address bar (and its history) keeps no token.
                query = [(k, v) for k, v in request.query.items() if k != TOKEN_PARAM]
                location = "/" + request.path.lstrip("/") + ("?" + urlencode(query) if query else "")
                response = web.Response(status=302, headers={"Location": location})
                response.set_cookie(SESSION_COOKIE, self.gate.open_session(), httponly=True, samesite="Lax",
                                    secure=self.ssl_context is not None, path="/")
                self.no_cache(response)
                log.info("%s opened a session", request.remote)
                return response
            if not self.gate.session_ok(request.cookies.get(SESSION_COOKIE)):
                return self.refuse(request, "no session")
            if request.path == "/ws" and not self.same_origin(request):
                return self.refuse(request, "another origin")
            response = await handler(request)
            if not response.prepared:                     # not the websocket's
                response.headers.setdefault("X-Frame-Options", "DENY")
                response.headers.setdefault("Referrer-Policy", "no-referrer")
                response.headers.setdefault("X-Content-Type-Options", "nosniff")
            return response

        @staticmethod
        def same_origin(request) -> bool:
            origin = request.headers.get("Origin")
            return origin is None or urlsplit(origin).netloc == request.host

        @staticmethod
        def no_cache(response) -> None:
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"

        def refuse(self, request, why: str):
            log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, why)
            response = web.Response(status=403, text=REFUSED)
            self.no_cache(response)
            return response

        # ---- the routes (textual-serve's, behind the gate; its own page replaced by ours)
        async def _make_app(self):
            app = web.Application(middlewares=[self.gate_middleware])
            aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({"panels.html": PAGE}), autoescape=True)
            app.add_routes([
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.get("/favicon.ico", self.handle_favicon, name="favicon"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ])
            app.on_shutdown.append(self.on_shutdown)
            return app

        async def handle_favicon(self, request):
            return web.Response(status=204)

        async def handle_index(self, request):
            nonce = secrets.token_urlsafe(16)
            context = {"title": self.title, "font_size": to_int(request.query.get("fontsize", "16"), 16),
                       "sequences": {str(n): s for n, s in FKEY_SEQUENCES.items()}, "hints": KEY_HINTS,
                       "nonce": nonce}
            response = aiohttp_jinja2.render_template("panels.html", request, context)
            self.no_cache(response)
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                "base-uri 'none'; form-action 'none'")
            return response

        async def handle_websocket(self, request):
            """textual-serve's handler, with the panels' environment and a record of open sockets
            (closed at shutdown, so every panel process is told to quit)."""
            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            service = None
            self.sockets.add(websocket)
            try:
                await websocket.prepare(request)
                service = PanelService(self.command, write_bytes=websocket.send_bytes,
                                       write_str=websocket.send_str, close=websocket.close,
                                       download_manager=self.download_manager, debug=self.debug)
                await service.start(width, height)
                log.info("%s: panels started (%sx%s)", request.remote, width, height)
                try:
                    await self._process_messages(websocket, service)
                finally:
                    await service.stop()
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as exc:
                log.error("session from %s ended: %s: %s", request.remote, type(exc).__name__, exc)
            finally:
                self.sockets.discard(websocket)
                if service is not None:
                    await service.stop()
                log.info("%s: panels closed", request.remote)
            return websocket

        async def on_shutdown(self, app) -> None:
            for websocket in list(self.sockets):
                await websocket.close(code=1001, message=b"server shutdown")

        # ---- run
        @staticmethod
        def runner_options() -> Dict[str, Any]:
            """aiohttp's runner settings: our access log (no query strings), no signal handling."""
            return {"handle_signals": False, "access_log_class": AccessLog,
                    "access_log": logging.getLogger("flash4i.serve.access")}

        async def start(self):
            """Bind and start serving; returns the aiohttp runner (its `addresses` are the bound ones)."""
            app = await self._make_app()
            runner = web.AppRunner(app, **self.runner_options())
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
            await site.start()
            self.addresses = list(runner.addresses)
            return runner

    return PanelServer()


def serve_forever(server: Any, on_ready) -> None:
    """Run SERVER until SIGINT/SIGTERM; ON_READY(port) is called once it listens."""
    server.initialize_logging()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover  (not the main thread)
                pass
        runner = await server.start()
        try:
            on_ready(server.addresses[0][1])
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


# ------------------------------------------------------------------ the command

def ssl_context(cert: Optional[str], key: Optional[str]):
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValidationError("TLS needs both --tls-cert and --tls-key")
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValidationError(f"cannot load the TLS certificate {cert} and key {key}: {exc}") from None
    return context
