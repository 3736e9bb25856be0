"""Refusals: a valid request that the sidecar will not carry out in its current state.

Each carries the HTTP status, a machine code and details that reach the client in the JSON
answer, so that the admin service can say it in the admin's language; the message is the reason
in English (the logs, the CLI, API scripts)."""


class Refused(RuntimeError):
    status = 409

    def __init__(self, message: str, code: str = "conflict", **detail):
        super().__init__(message)
        self.code = code
        self.detail = detail


class Conflict(Refused):
    """Another job holds the slot, or a volume is in use (409)."""


class Stopping(Refused):
    """The sidecar received SIGTERM: it finishes or rolls back its job, then exits (503)."""

    status = 503


class NoSpace(Refused):
    """The archives volume has not enough free space for the export (507)."""

    status = 507
