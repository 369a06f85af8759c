"""One signed webhook POST on the wire: signatures, a bounded response read, the outcome class.
The connection goes through outbound.http (address policy, pinned address, no redirects). No
database here; `delivery.webhook_deliveries_send` records what this returns."""

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from outbound import http as outbound_http

from .signing_keys import SigningKeys

USER_AGENT = "Relink-Webhooks/1.0"


def merge_signature(*, signature_key: str, body: bytes) -> str:
    """Merge's X-Merge-Webhook-Signature: base64url of HMAC-SHA256 over the raw body."""
    digest = hmac.new(signature_key.encode(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def signed_headers(*, keys: SigningKeys, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """Both signature schemes. `webhook-signature` holds one `v1,…` signature per signing key,
    space-separated (two during a key rotation's overlap); the Merge header holds one."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Merge-Webhook-Signature": merge_signature(signature_key=keys.merge_key, body=body.encode()),
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(key).sign(msg_id=message_id, timestamp=at, data=body) for key in keys.standard_keys
        ),
    }


@dataclass
class SendResult:
    outcome: str  # AttemptOutcome value
    status_code: int | None
    response_body: str
    response_truncated: bool
    error: str
    duration_ms: int
    retry_after_seconds: float | None


def _profile() -> outbound_http.Profile:
    return outbound_http.Profile(
        name="webhooks",
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
        follow_redirects=False,  # a 3xx is the receiver's answer, final
        allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK,
        user_agent=USER_AGENT,
    )


def _classify(status_code: int) -> str:
    if 200 <= status_code < 300:
        return "SUCCESS"
    if status_code == 429 or status_code == 408 or status_code >= 500:
        return "TRANSIENT"
    # Other 4xx, and 1xx/3xx (redirects are not followed): final.
    return "PERMANENT"


def send(*, url: str, body: str, headers: dict[str, str]) -> SendResult:
    """POST once. Reads at most WEBHOOK_RESPONSE_BODY_LIMIT bytes of the answer and gives up at
    WEBHOOK_TOTAL_TIMEOUT_SECONDS, so a 50 MB or never-ending answer costs at most the timeout."""
    started = time.monotonic()
    deadline = started + settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS
    limit = settings.WEBHOOK_RESPONSE_BODY_LIMIT

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    profile = _profile()
    try:
        client = outbound_http.client(profile)
        request = client.build_request(
            "POST", url, content=body.encode(), headers=headers, timeout=profile.timeout()
        )
        response = client.send(request, stream=True)
    except outbound_http.BlockedAddress:
        return SendResult(
            "PERMANENT", None, "", False, "URL resolves to a refused address", elapsed_ms(), None
        )
    except httpx.TimeoutException as exc:
        return SendResult("TRANSIENT", None, "", False, f"Timeout: {type(exc).__name__}", elapsed_ms(), None)
    except (httpx.TransportError, OSError) as exc:
        return SendResult(
            "TRANSIENT", None, "", False, f"Connection error: {type(exc).__name__}", elapsed_ms(), None
        )
    raw = b""
    truncated = False
    error = ""
    try:
        read = outbound_http.read_capped(response, limit=limit, deadline=deadline, decoded=False)
        raw, truncated = read.content, read.over_limit or read.past_deadline
        if read.past_deadline:
            error = "Response body not finished within the total timeout"
    except httpx.TimeoutException:
        truncated = True
        error = "Timed out reading the response body"
    except (httpx.TransportError, OSError) as exc:
        truncated = True
        error = f"Connection error reading the response body: {type(exc).__name__}"
    finally:
        response.close()
    outcome = _classify(response.status_code)
    retry_after = (
        outbound_http.parse_retry_after(response.headers.get("retry-after"))
        if outcome == "TRANSIENT"
        else None
    )
    if outcome != "SUCCESS" and not error:
        error = f"HTTP {response.status_code}"
    return SendResult(
        outcome,
        response.status_code,
        raw.decode("utf-8", errors="replace"),
        truncated,
        error,
        elapsed_ms(),
        retry_after,
    )
