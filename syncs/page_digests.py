"""Page digests: a repeat sync skips the provider pages it already stored.

A run that ended DONE keeps, per common model, the digest of each page it fetched (its records
as the provider sent them, in order) in `SyncRun.page_digests`. The next run compares each
page it fetches with the page at the same position of the latest run that stored data:

- every page of a model identical (same digests, same number of pages): the model's stored rows
  are what that run left, so nothing is mapped, normalised or digested again. One count checks
  it (the account's live rows, against the number that run left): rows added or removed
  since by other means than a sync make the run store every page as usual;
- some pages identical: their records are mapped only to learn their remote ids (they are
  unchanged and present: never flagged `remote_was_deleted`), the other pages are stored as
  usual;
- no usable digests (the latest storing run was PARTIALLY_SYNCED, failed runs store nothing,
  the mapping code changed since, or the last run that read every page is over
  `FULL_PASS_EVERY` old): every page is stored as usual.

The digests are salted with the source of the code between a page and its stored row (the
integration's module, the shared mapping helpers, the common models, storage), so a deploy
that changes a mapping stores every page once again. Hand-written: a cache of this shape sits
between our own provider paging and our own upsert.
"""

from __future__ import annotations

import hashlib
import inspect
from datetime import datetime, timedelta
from typing import Any

import orjson

FULL_PASS_EVERY = timedelta(hours=24)
_salts: dict[str, str] = {}


def page_digest(page: list[Any]) -> str | None:
    """The digest of one page of raw provider records; None when it cannot be serialised
    (then it never matches)."""
    try:
        body = orjson.dumps(page)
    except (orjson.JSONEncodeError, TypeError):
        return None
    return hashlib.sha1(body).hexdigest()  # noqa: S324 - a change detector, not security


def _salt(integration: Any) -> str:
    slug = integration.slug
    if slug not in _salts:
        from . import common_models, storage
        from .integrations import base, paging, values

        modules = {inspect.getmodule(cls) for cls in type(integration).__mro__} | {
            base,
            paging,
            values,
            common_models,
            storage,
        }
        digest = hashlib.sha1(slug.encode())  # noqa: S324
        for module in sorted((m for m in modules if m is not None and hasattr(m, "__file__")), key=str):
            with open(module.__file__, "rb") as source:
                digest.update(source.read())
        _salts[slug] = digest.hexdigest()
    return _salts[slug]


class PageDigests:
    """One run's view: the previous run's digests (when usable) and this run's."""

    def __init__(self, *, integration: Any, previous: dict[str, Any] | None, now: datetime):
        self.salt = _salt(integration)
        self.now = now
        usable = (
            isinstance(previous, dict)
            and previous.get("salt") == self.salt
            and _fresh(previous.get("full_pass_at"), now)
        )
        self.previous: dict[str, list[str]] = previous.get("models", {}) if usable else {}
        self.full_pass_at: str | None = previous.get("full_pass_at") if usable else None
        # Per model, how many live (not remote_was_deleted) rows the previous run left.
        self.previous_rows: dict[str, int] = previous.get("rows", {}) if usable else {}
        self.current: dict[str, list[str | None]] = {}
        self.any_skipped = False

    def seen(self, model: str, index: int, page: list[Any]) -> bool:
        """Record the page's digest; True when it is the same as the previous run's page."""
        digest = page_digest(page)
        self.current.setdefault(model, []).append(digest)
        previous = self.previous.get(model)
        same = (
            digest is not None
            and previous is not None
            and index < len(previous)
            and previous[index] == digest
        )
        self.any_skipped |= same
        return same

    def all_same(self, model: str) -> bool:
        """Every page of the model matched, and there were as many as before."""
        previous = self.previous.get(model)
        current = self.current.get(model, [])
        return (
            previous is not None
            and None not in current
            and previous == current
            and isinstance(self.previous_rows.get(model), int)
        )

    def to_store(self, rows: dict[str, int]) -> dict[str, Any]:
        """What the run keeps when it ends DONE; `rows`: the live rows it left, per model."""
        full_pass_at = self.full_pass_at if self.any_skipped else self.now.isoformat()
        return {"salt": self.salt, "full_pass_at": full_pass_at, "models": self.current, "rows": rows}


def _fresh(value: Any, now: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return now - datetime.fromisoformat(value) < FULL_PASS_EVERY
    except (TypeError, ValueError):
        return False
