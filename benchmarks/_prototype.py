"""A prototype of what would bring the suspended window to L + 2 x RTT: benchmarks only, never
the product. Enabled by `bench_window.py --prototype`.

1. One spare session channel per SSH transport, opened in the background right after each command
   (and after the connection): the next command finds its channel open and costs one round trip
   (exec request -> answer) instead of two (channel open, then exec). Inside the window that is the
   start command on the storage's transport and the resume on the IBM i's: their channels were
   opened while the earlier commands ran (the resume's while the start ran).
2. The answer waited for by event instead of a 10 ms sleep loop (here: 1 ms sleeps).

The product's change would be the same two points in devices/ssh.py (SshSession.run).
"""
from __future__ import annotations

import threading

import paramiko

_orig_open = paramiko.Transport.open_session


def _spare(transport: paramiko.Transport) -> None:
    box: dict = {}
    done = threading.Event()

    def open_one() -> None:
        try:
            box["channel"] = _orig_open(transport, timeout=15)
        except Exception:          # the next command opens its own
            box["channel"] = None
        done.set()
    transport._bench_spare = (box, done)
    threading.Thread(target=open_one, name="bench-spare-channel", daemon=True).start()


def _open_session(self, window_size=None, max_packet_size=None, timeout=None):
    spare = getattr(self, "_bench_spare", None)
    self._bench_spare = None
    channel = None
    if spare is not None and not self.server_mode:
        box, done = spare
        done.wait(timeout or 15)
        channel = box.get("channel")
        if channel is not None and (channel.closed or not self.is_active()):
            channel = None
    if channel is None:
        kwargs = {"timeout": timeout}
        if window_size is not None:
            kwargs["window_size"] = window_size
        if max_packet_size is not None:
            kwargs["max_packet_size"] = max_packet_size
        channel = _orig_open(self, **kwargs)
    if not self.server_mode and self.is_active():
        _spare(self)
    return channel


class _FastTime:
    """devices.ssh's `time`, with its 10 ms answer poll cut to 1 ms."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def sleep(self, seconds: float) -> None:
        self._real.sleep(min(seconds, 0.001))


def enable() -> None:
    import flash4i_tui.devices.ssh as ssh
    paramiko.Transport.open_session = _open_session
    if not isinstance(ssh.time, _FastTime):
        ssh.time = _FastTime(ssh.time)


def disable() -> None:
    import flash4i_tui.devices.ssh as ssh
    paramiko.Transport.open_session = _orig_open
    if isinstance(ssh.time, _FastTime):
        ssh.time = ssh.time._real
