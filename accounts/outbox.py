"""Who hears about status changes. `accounts` imports no other app: the issues app registers a
listener here when it is ready, and each committed change is handed to it (the status-history
row is the outbox; a beat sweep in `issues` catches anything a listener missed)."""

from collections.abc import Callable

_listeners: list[Callable[[list[int]], None]] = []


def register_status_change_listener(listener: Callable[[list[int]], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def notify(change_ids: list[int]) -> None:
    for listener in _listeners:
        listener(change_ids)
