"""The account token of a LinkedAccount.linked event: never stored with the delivery.

The stored body carries a placeholder where the token goes; each attempt fills in the account's
current token from its encrypted column just before signing and sending, so the deliveries
table (kept WEBHOOK_DELIVERY_RETENTION_DAYS, shown to operators, copied into backups) holds no
live token. The receiver still gets the exact bytes that were signed. An account deleted since
the event gets `null` (its token no longer works anyway); a token regenerated since is sent as
it is now (the old one no longer works).

Such a delivery is never sent to an endpoint URL changed after the event: whoever changes the
URL would otherwise collect live tokens by redelivering old events."""

import json
import uuid
from collections.abc import Iterable
from datetime import datetime

from accounts.selectors import linked_account_tokens

PLACEHOLDER = "[account token, filled in when sent]"
_FIELD = '"account_token":'
_STORED = _FIELD + json.dumps(PLACEHOLDER)
URL_CHANGED_ERROR = (
    "The endpoint's URL changed after this event: its account token is not sent to the new URL."
)


def carries_account_token(body: str) -> bool:
    """Whether this stored body has the token placeholder. The compact form cannot occur inside
    a JSON string (its quotes would be escaped), so end-user text cannot forge it."""
    return _STORED in body


def url_changed_since(*, url_changed_at: datetime | None, created_at: datetime | None) -> bool:
    return url_changed_at is not None and created_at is not None and url_changed_at > created_at


def tokens_for(account_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """The current tokens of these accounts, decrypted (accounts that no longer exist are left out)."""
    return linked_account_tokens(account_ids=[i for i in account_ids if i is not None])


def body_to_send(body: str, *, token: str | None) -> str:
    """The stored body with the placeholder replaced by the token (null when there is none)."""
    return body.replace(_STORED, _FIELD + json.dumps(token), 1)


def bodies_to_send(deliveries: list) -> dict[uuid.UUID, str | None]:
    """For each claimed delivery (with its endpoint loaded): the body to sign and send, or None
    when it must not be sent (it carries a token and the endpoint's URL changed since the event)."""
    carrying = [d for d in deliveries if carries_account_token(d.body)]
    tokens = tokens_for(d.linked_account_uuid for d in carrying)
    bodies: dict[uuid.UUID, str | None] = {d.pk: d.body for d in deliveries}
    for delivery in carrying:
        if url_changed_since(url_changed_at=delivery.endpoint.url_changed_at, created_at=delivery.created_at):
            bodies[delivery.pk] = None
        else:
            bodies[delivery.pk] = body_to_send(delivery.body, token=tokens.get(delivery.linked_account_uuid))
    return bodies
