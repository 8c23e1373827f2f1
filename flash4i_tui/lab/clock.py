"""The lab's clock: wall-clock timestamps, durations run SPEED times faster.

Device models express durations in lab seconds (an IPL takes 600 lab seconds); the clock
turns them into real waits of 600/speed seconds. Timestamps stay real so logs copied back
from a simulated clone line up with the store's own times.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class LabClock:
    def __init__(self, speed: float = 1.0):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._stop = threading.Event()

    def now(self) -> datetime:
        """Current time, aware UTC."""
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        """Lab seconds since an arbitrary origin (for measuring lab durations)."""
        return time.monotonic() * self.speed

    def real(self, lab_seconds: float) -> float:
        return max(0.0, lab_seconds) / self.speed

    def sleep(self, lab_seconds: float, cancel: threading.Event | None = None) -> bool:
        """Sleep LAB_SECONDS of lab time. Returns False if CANCEL (or lab shutdown) interrupted it."""
        deadline = time.monotonic() + self.real(lab_seconds)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if self._stop.is_set() or (cancel is not None and cancel.is_set()):
                return False
            (cancel or self._stop).wait(min(left, 0.05))

    def shutdown(self) -> None:
        """Wake every sleeper: the lab is stopping."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()
