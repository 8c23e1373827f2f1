"""`flash4i serve` in a real browser: headless Chromium (Debian's chromium + chromium-driver, driven
by selenium) on the panels served by textual-serve, over the lab.

The browser test opens WRKFLENV, starts a run with option 1, closes the tab while the run goes on,
comes back and follows the run on the live panel to its end, uses F14 as Shift+F2 and a legend
button, opens FLDSPHST, and checks that connections without the token are refused and that the
token is nowhere but in the one line `flash4i serve` printed. Screenshots go under the test's
temporary folder (`browser/`). The other tests check the token gate without a browser.
"""
from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional

import pytest

from .conftest import wait_until

pytestmark = [pytest.mark.tui]

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
                 if p and os.path.exists(p)), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver",
                                 "/usr/lib/chromium/chromedriver") if p and os.path.exists(p)), None)

# Before textual.js runs: keep its terminal client (the object that sets `websocket_url` in its
# constructor) so the test can read what xterm.js shows, line by line.
CLIENT_HOOK = """
Object.defineProperty(Object.prototype, "websocket_url", {
  configurable: true,
  get: function () { return undefined; },
  set: function (value) {
    Object.defineProperty(this, "websocket_url", {value: value, writable: true, configurable: true,
                                                  enumerable: true});
    window.__flash4iClient = this;
  }
});
"""
READ_SCREEN = """
var c = window.__flash4iClient;
if (!c || !c.terminal) { return null; }
var buffer = c.terminal.buffer.active, out = [];
for (var i = 0; i < c.terminal.rows; i++) {
  var line = buffer.getLine(i);
  out.push(line ? line.translateToString(true) : "");
}
return out;
"""


# ------------------------------------------------------------------ helpers

def descendants(pid: int) -> List[int]:
    """The processes under PID (from /proc), children first."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        todo += kids
    return out


def proc_text(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


class Served:
    """`flash4i serve --port 0` in a subprocess; its first line is the address with the token."""

    def __init__(self, db_url: str, tmp_path: Path):
        env = dict(os.environ, FLASH4I_DB=db_url, FLASH4I_SYSTEM_NAME="FLASHLAB", FLASH4I_TZ="UTC")
        self.stderr_path = tmp_path / "serve.err"
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "serve", "--port", "0"],
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, bufsize=0)     # unbuffered: select() sees each line
        self.lines: List[str] = []
        deadline = time.monotonic() + 30
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self.proc.kill()
                raise AssertionError("flash4i serve printed no address within 30 s: " + self.stderr_path.read_text())
            line = self.proc.stdout.readline().decode()
            if not line:
                raise AssertionError("flash4i serve exited: " + self.stderr_path.read_text())
            self.lines.append(line)
            if "Ctrl+C" in line:
                break
        self.url = self.lines[0].split("open ", 1)[1].strip()
        self.base = self.url.split("?", 1)[0]
        self.token = self.url.split("token=", 1)[1]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rest = self.proc.stdout.read().decode()
        self.stderr.close()
        return "".join(self.lines) + rest


def http_status(url: str, headers: Optional[dict] = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def ws_status(base: str, cookie: Optional[str] = None, origin: Optional[str] = None) -> int:
    """The status of a websocket handshake on /ws (101 when accepted)."""
    import aiohttp

    async def attempt() -> int:
        headers = {}
        if cookie:
            headers["Cookie"] = cookie
        if origin:
            headers["Origin"] = origin
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(base.replace("http", "ws", 1) + "ws", headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status
    return asyncio.run(attempt())


# ------------------------------------------------------------------ the browser

def browser(shots: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    # An explicit driver and browser: Selenium Manager never downloads anything.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=subprocess.DEVNULL), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CLIENT_HOOK})
    return driver


class Screen:
    """What the browser's terminal shows, and the keys typed into it."""

    def __init__(self, driver, shots: Path):
        self.driver, self.shots = driver, shots

    def lines(self) -> List[str]:
        return self.driver.execute_script(READ_SCREEN) or []

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        def shown():
            text = self.text()
            return text if all(t in text for t in texts) else ""
        try:
            return wait_until(shown, timeout, f"{texts} on the browser's screen")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.text()}") from None

    def keys(self, *keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        self.driver.execute_script("var f = document.querySelector('.xterm-helper-textarea'); if (f) f.focus();")
        chain = ActionChains(self.driver)
        for key in keys:
            chain.send_keys(key).pause(0.05)
        chain.perform()

    def shift_key(self, key: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(key).key_up(Keys.SHIFT).perform()

    def row_of(self, text: str) -> int:
        return next(i for i, line in enumerate(self.lines()) if text in line)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def need_chromium() -> None:
    """Skip on a developer's machine without the browser; in CI (.ci/run installs it) fail instead."""
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install '.[test]')")
    if missing:
        reason = (f"the browser test needs {', '.join(missing)}: apt-get install chromium chromium-driver "
                  "(.ci/run installs them)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.mark.lab
def test_the_panels_in_a_browser_on_the_lab(lab, lab_store, tmp_path):
    need_chromium()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from flash4i_tui.engine.launch import worker_alive
    from flash4i_tui.lab.faults import FaultRules
    from flash4i_tui.store import models as m

    url = f"sqlite:///{tmp_path / 'store.db'}"
    shots = tmp_path / "browser"
    shots.mkdir()
    served = Served(url, tmp_path)
    driver = None
    seen_cmdlines: List[bytes] = []
    output = ""
    try:
        # ---- no token, a wrong token, a websocket without a session or from another origin: 403
        assert served.base.startswith("http://127.0.0.1:")
        assert http_status(served.base) == 403
        assert http_status(served.base + "?token=" + "x" * len(served.token)) == 403
        assert http_status(served.base + "static/js/textual.js") == 403
        assert ws_status(served.base) == 403

        driver = browser(shots)
        screen = Screen(driver, shots)
        driver.get(served.base)                      # the browser without the token
        assert "403 Forbidden" in driver.find_element(By.TAG_NAME, "body").text
        assert not driver.find_elements(By.ID, "terminal")
        screen.shot("0-refused")

        # ---- with the token: a session cookie, the address bar without it, WRKFLENV
        driver.get(served.url)
        assert "token" not in driver.current_url
        cookie = driver.get_cookie("flash4i_session")
        assert cookie and cookie["httpOnly"] and cookie["value"] != served.token
        text = screen.wait_for("Work with Environments", "RCVPNT", "F3=Exit")
        assert "FLASHLAB" in text
        legend = driver.find_element(By.ID, "keys").text
        assert "F24" in legend and "Shift+F1" in legend
        screen.shot("1-wrkflenv")
        session = f"flash4i_session={cookie['value']}"
        assert ws_status(served.base, session, origin="http://evil.example") == 403
        for pid in descendants(served.proc.pid):        # the panels' process: nothing secret on it
            seen_cmdlines.append(proc_text(pid, "cmdline") + b"\0" + proc_text(pid, "environ"))
        assert any(b"flash4i_tui\0tui" in c for c in seen_cmdlines), seen_cmdlines

        # ---- option 1 next to RCVPNT, Enter: the live run panel. The array holds its prepare
        # for a few seconds (5 lab minutes), so the tab closes while the run is running.
        lab.world.faults.replace(FaultRules.parse([{"device": "svc", "match": "prestartfcconsistgrp",
                                                     "action": "hang", "seconds": 3000, "times": 1}]))
        down = screen.row_of("RCVPNT") - screen.row_of("NIGHTLY")
        screen.keys(*([Keys.DOWN] * down), "1", Keys.ENTER)
        screen.wait_for("Work with Flash Run", "RCVPNT")
        screen.shot("2-run-started")
        run = wait_until(lambda: m.Run.select().where(m.Run.env_name == "RCVPNT").first(), 10, "the run")

        # ---- close the tab: the panels' process ends, the run goes on in the worker
        assert m.Run.get_by_id(run.id).state in ("QUEUED", "RUNNING")
        driver.get("about:blank")
        wait_until(lambda: not descendants(served.proc.pid), 15, "the panels' process to end")
        worker = worker_alive(url)
        assert worker, "no worker process runs the run"
        assert os.getsid(worker) != os.getsid(served.proc.pid)      # detached: not the web process's
        assert worker not in descendants(served.proc.pid)
        assert m.Run.get_by_id(run.id).state == "RUNNING"

        # ---- come back (the session cookie is enough), option 8: follow the run to its end
        driver.get(served.base)
        screen.wait_for("Work with Environments", "RCVPNT")
        down = screen.row_of("RCVPNT") - screen.row_of("NIGHTLY")
        screen.keys(*([Keys.DOWN] * down), "8", Keys.ENTER)
        screen.wait_for("Work with Flash Run", "RCVPNT")
        text = screen.wait_for("State . . . . . :  SUCCEEDED", "FINISH", timeout=60)
        assert f"{run.id}" in text
        screen.shot("3-run-ended")
        assert m.Run.get_by_id(run.id).state == "SUCCEEDED"

        # ---- F14 (Agent log) as Shift+F2 on the browser keyboard; F12 from the legend's button
        screen.shift_key(Keys.F2)
        screen.wait_for("Display Agent Log")
        screen.shot("4-agent-log")
        driver.find_element(By.CSS_SELECTOR, '#keys button[data-key="12"]').click()
        screen.wait_for("Work with Flash Run")

        # ---- F3 back to WRKFLENV, FLDSPHST on the command line
        screen.keys(Keys.F3)
        screen.wait_for("Work with Environments")
        screen.keys(Keys.TAB, *"FLDSPHST", Keys.ENTER)
        text = screen.wait_for("Display Flash History", "RCVPNT", "SUCCEEDED")
        screen.shot("5-fldsphst")
    finally:
        if driver is not None:
            driver.quit()
        output = served.stop()
        pid = worker_alive(url)
        if pid:
            os.kill(pid, signal.SIGTERM)

    # ---- the token: printed once, and nowhere else (logs, panels' command lines and environments, files)
    token = served.token.encode()
    assert output.count(served.token) == 1, output
    assert token not in served.stderr_path.read_bytes()
    assert "opened a session" in served.stderr_path.read_text()
    assert seen_cmdlines and not any(token in c for c in seen_cmdlines)
    for path in tmp_path.rglob("*"):          # the store, the lab's and the worker's files, the logs
        if path.is_file():
            assert token not in path.read_bytes(), path
    assert {p.name for p in shots.glob("*.png")} >= {"1-wrkflenv.png", "3-run-ended.png", "5-fldsphst.png"}


# ------------------------------------------------------------------ the gate, without a browser

def test_the_token_gate_keeps_only_hashes():
    from screens.web import TokenGate
    gate, token = TokenGate.generate()
    assert len(token) >= 40
    assert token not in repr(vars(gate)) and token.encode() not in repr(vars(gate)).encode()
    assert gate.token_ok(token) and not gate.token_ok(token[:-1]) and not gate.token_ok("") \
        and not gate.token_ok(None)
    session = gate.open_session()
    assert gate.session_ok(session) and not gate.session_ok(token) and not gate.session_ok(None)
    assert session not in repr(vars(gate))


def test_serve_refuses_another_host_without_tls(capsys):
    from flash4i_tui.cli import main
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 4
    err = capsys.readouterr().err
    assert "without TLS is refused" in err and "ssh -L" in err
    assert main(["serve", "--host", "192.0.2.1", "--tls-cert", "x.pem"]) == 2


def test_the_panels_command_carries_no_secret(monkeypatch):
    from screens.web import is_loopback, panel_command
    monkeypatch.setenv("FLASH4I_DB", "postgresql://op:secret@db/flash4i")
    assert panel_command().endswith("-m flash4i_tui tui") and "secret" not in panel_command()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


async def test_every_route_needs_the_session(tmp_path, caplog):
    pytest.importorskip("textual_serve")
    import aiohttp

    from screens.web import FKEY_SEQUENCES, TokenGate, make_server
    gate, token = TokenGate.generate()
    server = make_server(gate, f"sqlite:///{tmp_path / 's.db'}", port=0, command="true")
    caplog.set_level("INFO")
    runner = await server.start()            # the real runner: its access log too
    base = f"http://127.0.0.1:{server.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            for path in ("/", "/ws", "/static/js/textual.js", "/download/x", "/nothing"):
                async with client.get(base + path) as response:
                    assert response.status == 403, path
            async with client.get(base + "/?token=wrong") as response:
                assert response.status == 403
            async with client.get(f"{base}/?token={token}&fontsize=20", allow_redirects=False) as response:
                assert response.status == 302 and response.headers["Location"] == "/?fontsize=20"
                cookie = response.cookies["flash4i_session"]
                assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie.value != token
            async with client.get(base + "/?fontsize=20") as page:
                assert page.status == 200
                html = await page.text()
                assert token not in html and 'data-font-size="20"' in html
                assert "default-src 'self'" in page.headers["Content-Security-Policy"]
                assert json.dumps(FKEY_SEQUENCES[15])[1:-1].lower() in html.lower()
            async with client.get(base + "/static/js/textual.js") as response:
                assert response.status == 200
            async with client.get(base + "/ws", headers={"Origin": "http://evil.example"}) as response:
                assert response.status == 403
    finally:
        await runner.cleanup()
    assert "opened a session" in caplog.text and "GET / 302" in caplog.text
    assert token not in caplog.text
