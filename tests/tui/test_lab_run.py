"""Start a run from WRKFLENV on the lab and watch the live run panel follow it to the end."""
from __future__ import annotations

import threading

import pytest

from flash4i_tui.engine.worker import Worker
from flash4i_tui.store import models as m

from .conftest import screen_lines, until

pytestmark = [pytest.mark.tui, pytest.mark.lab]


async def test_start_a_run_on_the_lab_and_watch_it_finish(lab, lab_store, tmp_path):
    from screens.app import Flash4iApp
    from screens.runpanel import RunPanel

    url = f"sqlite:///{tmp_path / 'store.db'}"
    workers = []

    def ensure_worker(db_url: str) -> None:      # the panels' hook: a real worker, in a thread
        worker = Worker(db_url, poll=0.05, step_poll=0.05)
        workers.append(worker)
        threading.Thread(target=worker.serve, daemon=True).start()

    app = Flash4iApp(url, None, system_name="FLASHLAB", ensure_worker=ensure_worker,
                     keymap_file=tmp_path / "none.yaml")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "RCVPNT" in "\n".join(screen_lines(app)), "WRKFLENV to list RCVPNT")
            text = "\n".join(screen_lines(app))
            assert "Work with Environments" in text and "RCVPNT" in text
            row = next(i for i, line in enumerate(screen_lines(app)) if "RCVPNT" in line)
            first = next(i for i, line in enumerate(screen_lines(app)) if "NIGHTLY" in line)
            for _ in range(row - first):
                await pilot.press("down")
            await pilot.press("1", "enter")
            await until(pilot, lambda: isinstance(app.screen, RunPanel) and "SUCCEEDED" in "\n".join(screen_lines(app)),
                        "the run panel to show the run SUCCEEDED", timeout=60)
            lines = screen_lines(app)
            text = "\n".join(lines)
            assert isinstance(app.screen, RunPanel), text
            assert "RCVPNT" in text and "SUCCEEDED" in text, text
            assert any("Suspended . . . :" in line and "s at " in line for line in lines), text
            run = m.Run.select().where(m.Run.env_name == "RCVPNT").get()
            assert run.state == "SUCCEEDED" and run.requested_by
    finally:
        for worker in workers:
            worker.stopping.set()
