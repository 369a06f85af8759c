"""The demo's webhook history, made the real way: an endpoint on a receiver that runs in a thread
for the length of the seed, and deliveries sent by the real sender, signed and recorded: one
delivered at once, one that fails (503), is retried and delivered, and one the receiver refuses
for good (410). The receiver is gone after the seed, so the endpoint is left disabled, with a
description that says so (an operator points it at a receiver of their own and enables it)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings

from accounts.models import LinkedAccount, Organization
from accounts.selectors import linked_account_details
from issues.webhooks.delivery import webhook_deliveries_send
from issues.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_update
from issues.webhooks.events import webhook_event_emit

DESCRIPTION = "Demo receiver (it ran during the demo seed only: point this at your own receiver)"


class _Receiver:
    """Answers each POST with the next scripted status (200 when none is left)."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.answers.pop(0) if receiver.answers else 200
                body = b"ok" if status < 400 else b"not now"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/relink"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@contextmanager
def _demo_settings() -> Iterator[None]:
    """A loopback receiver, and retries due at once (the retried delivery's second attempt
    happens within the seed instead of 30 s later)."""
    names = {
        "OUTBOUND_ALLOW_LOOPBACK": True,
        "WEBHOOK_RETRY_BASE_SECONDS": 0.0,
        "WEBHOOK_RETRY_JITTER": 0.0,
    }
    previous = {name: getattr(settings, name) for name in names}
    for name, value in names.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)


def demo_webhooks_seed(*, organization: Organization, accounts: dict[str, LinkedAccount]) -> bool:
    """Seeds the endpoint and its deliveries unless the organization has the demo endpoint."""
    if organization.webhook_endpoints.filter(description=DESCRIPTION).exists():
        return False
    receiver = _Receiver()
    receiver.thread.start()
    try:
        with _demo_settings():
            endpoint, _key = webhook_endpoint_create(
                organization=organization, url=receiver.url, description=DESCRIPTION
            )
            plan = [
                # (account, event, data, the receiver's answers to its attempts)
                ("acme-001", "LinkedAccount.sync_completed", {"demo": True}, [200]),
                (
                    "globex-002",
                    "Issue.new",
                    {"error_description": "Invalid API key", "demo": True},
                    [503, 200],
                ),
                ("initech-003", "LinkedAccount.status_changed", {"from": "COMPLETE", "to": "IDLE"}, [410]),
            ]
            for origin_id, event, data, answers in plan:
                account = accounts[origin_id]
                receiver.answers = list(answers)
                deliveries = webhook_event_emit(
                    organization=organization,
                    event=event,
                    account_details=linked_account_details(account=account),
                    data=data,
                )
                for _ in answers:
                    webhook_deliveries_send(delivery_ids=[d.pk for d in deliveries])
            webhook_endpoint_update(endpoint=endpoint, enabled=False)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    return True
