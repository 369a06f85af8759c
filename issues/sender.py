"""One signed webhook POST on the wire: signatures, a bounded response read, the outcome class.
No database here; `services.webhook_deliveries_send` records what this returns."""

import base64
import hashlib
import hmac
import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from standardwebhooks.webhooks import Webhook

USER_AGENT = "Relink-Webhooks/1.0"


def merge_signature(*, signature_key: str, body: bytes) -> str:
    """Merge's X-Merge-Webhook-Signature: base64url of HMAC-SHA256 over the raw body."""
    digest = hmac.new(signature_key.encode(), body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def signed_headers(*, signature_key: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Merge-Webhook-Signature": merge_signature(signature_key=signature_key, body=body.encode()),
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(signature_key).sign(msg_id=message_id, timestamp=at, data=body),
    }


def address_is_private(host: str) -> bool:
    """True when `host` (an IP literal or a name) is or resolves to a non-public address."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError):
            return False  # Unresolvable now: checked again before every send.
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return any(not a.is_global or a.is_multicast for a in addresses)


@dataclass
class SendResult:
    outcome: str  # AttemptOutcome value
    status_code: int | None
    response_body: str
    response_truncated: bool
    error: str
    duration_ms: int
    retry_after_seconds: float | None


_client: httpx.Client | None = None
_client_pid: int | None = None
_client_lock = threading.Lock()


def _http_client() -> httpx.Client:
    """One pooled client per process (prefork children each build their own; threads share it)."""
    global _client, _client_pid
    if _client is not None and _client_pid == os.getpid():
        return _client
    with _client_lock:
        if _client is not None and _client_pid == os.getpid():
            return _client
        _client = httpx.Client(
            timeout=httpx.Timeout(
                connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
                read=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
                write=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
                pool=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
            ),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        _client_pid = os.getpid()
        return _client


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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

    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        host = urlsplit(url).hostname or ""
        if address_is_private(host):
            return SendResult(
                "PERMANENT", None, "", False, "URL resolves to a private address", elapsed_ms(), None
            )
    try:
        timeout = httpx.Timeout(
            connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
            read=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
            write=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
            pool=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        )
        client = _http_client()
        request = client.build_request("POST", url, content=body.encode(), headers=headers, timeout=timeout)
        response = client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        return SendResult("TRANSIENT", None, "", False, f"Timeout: {type(exc).__name__}", elapsed_ms(), None)
    except (httpx.TransportError, OSError) as exc:
        return SendResult(
            "TRANSIENT", None, "", False, f"Connection error: {type(exc).__name__}", elapsed_ms(), None
        )
    chunks: list[bytes] = []
    size = 0
    truncated = False
    error = ""
    try:
        # No chunk_size: each piece as it arrives, so the deadline is checked even on a trickle.
        for chunk in response.iter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                truncated = True
                break
            if time.monotonic() > deadline:
                truncated = True
                error = "Response body not finished within the total timeout"
                break
    except httpx.TimeoutException:
        truncated = True
        error = "Timed out reading the response body"
    except (httpx.TransportError, OSError) as exc:
        truncated = True
        error = f"Connection error reading the response body: {type(exc).__name__}"
    finally:
        response.close()
    raw = b"".join(chunks)[:limit]
    outcome = _classify(response.status_code)
    retry_after = parse_retry_after(response.headers.get("retry-after")) if outcome == "TRANSIENT" else None
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
