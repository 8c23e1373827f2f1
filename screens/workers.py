"""Store work off the event loop, and its results back on it as messages.

Panels and the app read and write the store only in thread workers, each with its own store
connection (`in_store`). When a worker ends, its node (a panel, or the app for the jobs that must
finish even if the panel goes) gets a `WorkDone` or `WorkFailed` message, and `StoreWorkers`
hands the result to the callback the work was started with. The messages are small and plain,
as in Harlequin and Posting, so tests can watch them (`App.run_test(message_hook=...)`) instead
of sleeping. A cancelled worker (a newer page asked for) delivers nothing.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Dict, Tuple

from textual.message import Message
from textual.worker import Worker, WorkerState

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


def in_store(fn: Callable[[], Any]) -> Any:
    """Run FN in this worker thread with its own store connection (peewee connections are per thread)."""
    from flash4i_tui.store import database
    with database.obj.connection_context():    # the bound object, not the proxy: enter and exit must match
        return fn()


class WorkEnded(Message):
    """Store work of a panel or of the app ended (WorkDone or WorkFailed say how)."""

    bubble = False                      # for the node that started the work, not for its parents

    def __init__(self, worker: Worker):
        super().__init__()
        self.worker = worker

    @property
    def description(self) -> str:
        """`WrkFlEnvPanel:page`, `start NIGHTLY`, ...: what the work was."""
        return self.worker.description


class WorkDone(WorkEnded):
    """The work returned RESULT."""

    def __init__(self, worker: Worker, result: Any):
        super().__init__(worker)
        self.result = result


class WorkFailed(WorkEnded):
    """The work raised ERROR."""

    def __init__(self, worker: Worker, error: BaseException):
        super().__init__(worker)
        self.error = error


class StoreWorkers:
    """The store workers one node started, and what to call when each ends.

    The node forwards its `Worker.StateChanged` to `state_changed` and its `WorkDone` /
    `WorkFailed` to `deliver`."""

    def __init__(self, node: Any):
        self.node = node
        self.pending: Dict[Worker, Tuple[Done, Failed]] = {}

    def start(self, fn: Callable[[], Any], done: Done, failed: Failed, **options: Any) -> Worker:
        """Run FN (store work) in a thread worker of the node; DONE or FAILED get its outcome on the UI thread."""
        worker = self.node.run_worker(partial(in_store, fn), thread=True, exit_on_error=False, **options)
        self.pending[worker] = (done, failed)
        return worker

    def state_changed(self, event: Worker.StateChanged) -> None:
        """A worker of ours ended: post its outcome as a message (nothing for other workers)."""
        if event.worker not in self.pending:
            return
        if event.state == WorkerState.SUCCESS:
            self.node.post_message(WorkDone(event.worker, event.worker.result))
        elif event.state == WorkerState.ERROR:
            self.node.post_message(WorkFailed(event.worker, event.worker.error))
        elif event.state == WorkerState.CANCELLED:
            self.pending.pop(event.worker)

    def deliver(self, message: WorkEnded) -> None:
        """Call the callback the work of MESSAGE asked for."""
        callbacks = self.pending.pop(message.worker, None)
        if callbacks is None:
            return
        done, failed = callbacks
        if isinstance(message, WorkDone):
            done(message.result)
        elif isinstance(message, WorkFailed):
            failed(message.error)
