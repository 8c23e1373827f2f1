"""One error hierarchy for the whole product.

The CLI maps each class to one line and an exit code; panels show the text on the
message line. Device errors keep the device's own message id (CPF9801, CMMVC5753E,
HSCL8012) so an operator can look it up.
"""
from __future__ import annotations


class Flash4iError(Exception):
    """Base of every error the product raises on purpose."""

    exit_code = 1


class ConfigError(Flash4iError):
    """A configuration value is wrong. Carries every problem found, each with its place."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem] | str):
        if isinstance(problems, str):
            problems = [ConfigProblem(None, None, "", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigProblem:
    """One configuration problem: file, line, dotted field path and message."""

    def __init__(self, file: str | None, line: int | None, field: str, message: str):
        self.file, self.line, self.field, self.message = file, line, field, message

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({str(self)!r})"


class ValidationError(Flash4iError):
    """A single value is not acceptable (an IBM i name, an address, a CL fragment)."""

    exit_code = 2


class StoreError(Flash4iError):
    """The store cannot be opened, is of a newer schema, or a record is missing."""


class NotFound(StoreError):
    """A named object (environment, run, partition) does not exist in the store."""

    exit_code = 3


class DeviceError(Flash4iError):
    """A device refused or failed a command, or answered something we cannot parse."""

    def __init__(self, device: str, command: str, message: str, msg_id: str | None = None):
        self.device, self.command, self.msg_id, self.text = device, command, msg_id, message
        ident = f"{msg_id} " if msg_id and not message.startswith(msg_id) else ""
        super().__init__(f"{device}: {ident}{message} (command: {command})")


class DeviceUnreachable(DeviceError):
    """The device cannot be reached at all (connect, host key, authentication)."""


class HostKeyError(DeviceUnreachable):
    """The device's SSH host key is unknown or does not match known_hosts."""


class CommandAborted(DeviceUnreachable):
    """A command inside the suspend window was left without its answer: the worker is stopping,
    and production's resume must not wait for a hung device."""


class SafetyRefusal(Flash4iError):
    """A run was refused before any change because it could harm a partition or volume."""

    exit_code = 4


class StepTimeout(Flash4iError):
    """A step or a wait went past its bound."""


class RunCancelled(Flash4iError):
    """The run was asked to stop (SIGTERM to the worker, or an operator cancel)."""


class WorkerStopping(Flash4iError):
    """The worker is stopping (SIGTERM): a long wait ends so the run can be left for the next worker."""
