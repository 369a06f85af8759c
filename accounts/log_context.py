"""Who a log line is about: the request id, organization id and linked-account id of the work
in progress, kept in context variables (one value per thread and per asyncio task), so that
every log record made while serving a request or running a task can carry them without
threading them through each call. config/logging.py adds them to the records.

The ground floor holds it so that every app can say what it is working on (an API key names
its organization, a sync its account); only ids go in here, never a token or a credential."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

FIELDS = ("request_id", "organization_id", "linked_account_id")

_vars: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"relink_log_{name}", default=None) for name in FIELDS
}


def log_context_bind(**values: object) -> None:
    """Set some of the fields (ids are stored as strings; None clears one)."""
    for name, value in values.items():
        _vars[name].set(None if value is None else str(value))


def log_context_clear() -> None:
    for var in _vars.values():
        var.set(None)


def log_context_current() -> dict[str, str | None]:
    return {name: var.get() for name, var in _vars.items()}


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Bind fields for the duration of a block, then put back what was there."""
    tokens = [(_vars[name], _vars[name].set(None if v is None else str(v))) for name, v in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
