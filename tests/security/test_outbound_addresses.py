"""Outbound requests reach only public addresses (issue 14, findings 2 and 8).

What each test defends against:
- DNS rebinding: a webhook host whose name answers a public address at the check and 127.0.0.1
  at the connect must not reach a local service (the connection is pinned to the checked
  address; there is no second lookup).
- IPv6 forms that carry an internal IPv4 address (NAT64, 6to4, IPv4-mapped) are refused like
  the private ranges they stand for.
- A provider that redirects to a private address (cloud metadata) is not followed there.
- A BambooHR subdomain with a trailing newline never becomes part of a provider URL.

The resolver is the operating system's `socket.getaddrinfo`, answered here per test for the
made-up names only; the servers are real sockets on 127.0.0.1.

Defends against: SSRF from webhook URLs and provider calls (DNS rebinding, mixed answers, IPv6
forms of internal addresses, redirects).

Test by test (what each defends against):
- test_a_rebinding_name_never_reaches_a_local_receiver: DNS rebinding between the check and the connection.
- test_a_name_answering_public_and_loopback_is_refused: a name with one public and one internal address.
- test_the_pinned_connection_keeps_the_host_name: pinning that breaks TLS/SNI or Host for real receivers.
- test_ipv6_forms_of_internal_addresses_are_refused: NAT64, 6to4 and mapped forms of private addresses.
- test_loopback_setting_allows_loopback_only: the development setting opening private ranges too.
- test_a_provider_redirect_to_a_private_address_is_refused: a provider redirect used to reach internal
  services.
- test_a_bamboohr_subdomain_with_a_newline_is_refused: a subdomain check fooled by a trailing newline.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from issues.models import AttemptOutcome
from issues.webhooks import sender
from issues.webhooks.endpoints import webhook_endpoint_create
from syncs import integrations
from syncs.integrations.bamboohr import company_subdomain
from syncs.integrations.base import ErrorClass, ProviderError

from ..issues.receiver import Receiver

PUBLIC = "93.184.215.14"  # a public address; nothing answers it from the test machine


@pytest.fixture
def rebinding_dns(monkeypatch):
    """`rebind.example.test` answers PUBLIC to the first lookup and 127.0.0.1 to every later one."""
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example.test":
            return real(host, port, *args, **kwargs)
        address = PUBLIC if not lookups else "127.0.0.1"
        lookups.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


@pytest.fixture
def receiver():
    r = Receiver(verify=False).start()
    yield r
    r.stop()


def test_a_rebinding_name_never_reaches_a_local_receiver(settings, rebinding_dns, receiver):
    settings.OUTBOUND_ALLOW_LOOPBACK = False  # production
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1.0
    result = sender.send(
        url=f"http://rebind.example.test:{receiver.port}/hook",
        body='{"hook": {}}',
        headers={"Content-Type": "application/json"},
    )
    assert result.outcome != AttemptOutcome.SUCCESS
    assert receiver.received == []  # the local service never saw the request
    assert rebinding_dns == [PUBLIC]  # one lookup: the address checked is the one dialled


def test_a_name_answering_public_and_loopback_is_refused(settings, monkeypatch, receiver):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "mixed.example.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = sender.send(url=f"http://mixed.example.test:{receiver.port}/hook", body="{}", headers={})
    assert result.outcome == AttemptOutcome.PERMANENT
    assert "refused address" in result.error
    assert receiver.received == []


def test_the_pinned_connection_keeps_the_host_name(settings, monkeypatch, receiver):
    """Pinning changes where we connect, not what we ask for: the receiver sees its own name."""
    settings.OUTBOUND_ALLOW_LOOPBACK = True  # development: the name points at 127.0.0.1
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.example.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = sender.send(url=f"http://hooks.example.test:{receiver.port}/hook", body="{}", headers={})
    assert result.outcome == AttemptOutcome.SUCCESS
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "http://100.64.0.1/hook",  # shared address space (CGNAT)
        "http://0.0.0.0/hook",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_ipv6_forms_of_internal_addresses_are_refused(owner, settings, url):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError, match="private or loopback"):
        webhook_endpoint_create(organization=owner.organization, url=url)


def test_loopback_setting_allows_loopback_only(owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = True  # development and tests
    endpoint, _ = webhook_endpoint_create(organization=owner.organization, url="http://127.0.0.1:9/hook")
    assert endpoint.pk
    with pytest.raises(ValidationError, match="private or loopback"):
        webhook_endpoint_create(organization=owner.organization, url="http://10.1.2.3/hook")


@pytest.fixture
def redirecting_provider():
    """A provider on 127.0.0.1 whose every answer is a redirect to the cloud metadata address."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/iam/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_provider_redirect_to_a_private_address_is_refused(redirecting_provider):
    session = integrations.get("hibob").session({"service_user_id": "u", "token": "t"})
    with pytest.raises(ProviderError) as exc:
        session.get_json(f"{redirecting_provider}/v1/people")
    assert exc.value.error_class == ErrorClass.BAD_RESPONSE
    assert "not a public address" in exc.value.message
    # The refused hop is logged like any attempt.
    assert session.log[-1].error_class == ErrorClass.BAD_RESPONSE


@pytest.mark.parametrize("raw", ["https://acme\n.bamboohr.com", "acme\n.bamboohr.com/home"])
def test_a_bamboohr_subdomain_with_a_newline_is_refused(raw):
    # ("acme\n" alone is trimmed to "acme" like any pasted value; inside an address it is not.)
    with pytest.raises(ProviderError) as exc:
        company_subdomain(raw)
    assert exc.value.error_class == ErrorClass.CREDENTIALS_REJECTED
