"""The sandbox provider: a small, real third-party HRIS API on a socket (stdlib only).

Data API (``Authorization: Bearer <api key>``):
  GET /v1/me                              -> the company the key belongs to (a cheap check)
  GET /v1/employees?cursor=N&limit=M      -> {"data": [...], "next_cursor": "N+M" | null}
  GET /v1/candidates, GET /v1/contacts    the same paging (sandbox_ats, sandbox_crm)
Every key that begins with ``sk_sandbox_`` works until it is revoked (or rotated away) and
sees the same 200 deterministic employees, candidates and contacts (`sandbox_data.py`).
Unknown or revoked keys get 401. Each tenant (the ``X-Sandbox-Tenant`` header: Relink sends the
organization's id) has its own revocations and outages, so one organization's controls never
touch another's key of the same string.

Controls (``X-Sandbox-Control: <token>``, used by Relink's sandbox endpoints and tests):
  POST /control/revoke   {"api_key", "tenant"}           the key gets 401 (in that tenant) from now on
  POST /control/rotate   {"api_key", "tenant"}           revokes it and returns {"api_key": <new key>}
  POST /control/outage   {"api_key", "tenant", "mode"}   per key, or for every key without "api_key"
  POST /control/latency  {"ms"}                added to every data request
  POST /control/reset                          forget every revocation, outage and latency
Outage modes: none, http_500, timeout (never answers), slow (answers after a few seconds),
and for fault drills: http_429, http_403, malformed_json, html_login, redirect_loop, huge_body.

It is also the OAuth 2.0 authorization server of ``sandbox_oauth`` and ``sandbox_crm`` (see
syncs/sandbox_oauth.py): data calls signed with one of its access tokens (``at_…``) are checked
against the grant (401 invalid_token, 403 insufficient_scope) instead of the key rules, and act
out the grant's outage (``POST /control/oauth/outage {"token", "mode"}``, the same modes).

Run it with ``manage.py sandbox_provider`` (``make run`` does) or ``serve_in_thread()`` in tests.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import sandbox_oauth
from .sandbox_data import CANDIDATES, CONTACTS

KEY_PREFIX = "sk_sandbox_"
EMPLOYEE_COUNT = 200
MAX_LIMIT = 100
OUTAGE_MODES = (
    "none",
    "http_500",
    "timeout",
    "slow",
    "http_429",
    "http_403",
    "malformed_json",
    "html_login",
    "redirect_loop",
    "huge_body",
)

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]


def employee(index: int) -> dict:
    """Employee number `index` (1-based): the same for every key, every time."""
    first = _FIRST[index % len(_FIRST)]
    last = _LAST[(index // len(_FIRST)) % len(_LAST)]
    terminated = index % 20 == 0
    return {
        "id": f"emp_{index:04d}",
        "employee_number": f"E{index:04d}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}.{index}@sandbox-co.example",
        "personal_email": f"{first.lower()}{index}@mail.example",
        "phone": f"+1-555-{index:04d}",
        "status": "terminated" if terminated else "active",
        "hire_date": f"20{10 + index % 14:02d}-{1 + index % 12:02d}-{1 + index % 28:02d}",
        "termination_date": "2025-06-30" if terminated else None,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": f"2025-01-{1 + index % 28:02d}T12:00:00Z",
        # Sensitive, and fake: no SSN has area number 900-999.
        "ssn": f"9{index % 100:02d}-{10 + index % 90:02d}-{index:04d}",
        "date_of_birth": f"19{60 + index % 40:02d}-{1 + index % 12:02d}-{1 + index % 28:02d}",
    }


EMPLOYEES = [employee(i) for i in range(1, EMPLOYEE_COUNT + 1)]
RESOURCES = {"/v1/employees": EMPLOYEES, "/v1/candidates": CANDIDATES, "/v1/contacts": CONTACTS}


class SandboxState:
    """Revoked keys, outage modes and latency; shared by the server's threads."""

    def __init__(
        self,
        *,
        control_token: str,
        latency_ms: int = 0,
        slow_seconds: float = 3.0,
        timeout_hold_seconds: float = 120.0,
        access_token_seconds: int = 3600,
    ):
        self.control_token = control_token
        self.latency_ms = latency_ms
        self.slow_seconds = slow_seconds
        self.timeout_hold_seconds = timeout_hold_seconds
        # The Retry-After (seconds) of the http_429 outage mode.
        self.retry_after_seconds = 0
        # Both keyed by (tenant, api key).
        self.revoked: set[tuple[str, str]] = set()
        self.outages: dict[tuple[str, str], str] = {}
        self.global_outage = "none"
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.request_count = 0
        self.oauth = sandbox_oauth.OAuthState(access_token_seconds=access_token_seconds, secret=control_token)

    def key_ok(self, key: str, tenant: str = "") -> bool:
        with self.lock:
            return (
                key.startswith(KEY_PREFIX)
                and len(key) > len(KEY_PREFIX)
                and (tenant, key) not in self.revoked
            )

    def outage_for(self, key: str, tenant: str = "") -> str:
        with self.lock:
            return self.outages.get((tenant, key), self.global_outage)

    def reset(self) -> None:
        with self.lock:
            self.revoked.clear()
            self.outages.clear()
            self.global_outage = "none"
            self.latency_ms = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server_version = "SandboxHRIS/1.0"
    state: SandboxState  # set on the subclass made per server

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests and the demo run many requests
        pass

    # --- plumbing ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode())

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 65536:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _body(self) -> dict:
        raw = self._raw_body() or b"{}"
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    # --- routes ---------------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path == "/healthz":
            return self._json(200, {"ok": True})
        if parts.path == "/oauth/authorize":
            query = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
            problem = sandbox_oauth.authorize_problem(query)
            if problem:
                return self._send(400, problem.encode(), "text/plain; charset=utf-8")
            return self._send(200, sandbox_oauth.consent_page(query).encode(), "text/html; charset=utf-8")
        if parts.path != "/v1/me" and parts.path not in RESOURCES:
            return self._json(404, {"error": "not_found"})
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        tenant = self.headers.get("X-Sandbox-Tenant", "")
        state = self.state
        with state.lock:
            state.request_count += 1
        mode = ""
        if key.startswith("at_"):
            refused = state.oauth.data_call_check(key, parts.path)
            if refused:
                status, body, headers = refused
                return self._send(status, json.dumps(body).encode(), headers=headers)
            mode = state.oauth.outage_for(key)
        elif not state.key_ok(key, tenant):
            return self._json(401, {"error": "invalid_api_key", "message": "Unknown or revoked API key."})
        mode = mode or state.outage_for(key, tenant)
        if state.latency_ms:
            time.sleep(state.latency_ms / 1000)
        if self._outage(mode):
            return None
        if parts.path == "/v1/me":
            return self._json(200, {"company": {"id": "sandbox-co", "name": "Sandbox Co"}})
        query = parse_qs(parts.query)
        try:
            cursor = int(query.get("cursor", ["0"])[0])
            limit = min(int(query.get("limit", ["50"])[0]), MAX_LIMIT)
            if cursor < 0 or limit < 1:
                raise ValueError
        except ValueError:
            return self._json(400, {"error": "bad_request", "message": "cursor and limit are integers"})
        records = RESOURCES[parts.path]
        page = records[cursor : cursor + limit]
        following = cursor + limit
        next_cursor = str(following) if following < len(records) else None
        return self._json(200, {"data": page, "next_cursor": next_cursor, "total": len(records)})

    def _outage(self, mode: str) -> bool:
        """Act out an outage mode; True when the request has been answered (or dropped)."""
        state = self.state
        if mode == "none":
            return False
        if mode == "slow":
            state.stopping.wait(state.slow_seconds)
            return False
        if mode == "http_500":
            self._json(500, {"error": "internal_error"})
        elif mode == "http_429":
            self._send(
                429, b'{"error": "rate_limited"}', headers={"Retry-After": str(state.retry_after_seconds)}
            )
        elif mode == "http_403":
            self._json(403, {"error": "forbidden", "message": "This key may not read employees."})
        elif mode == "timeout":
            # Never answer: hold the connection until the client gives up (or we stop).
            state.stopping.wait(state.timeout_hold_seconds)
            self.close_connection = True
        elif mode == "malformed_json":
            self._send(200, b'{"data": [{"id": "emp_0001", "first_name": "Ada"', "application/json")
        elif mode == "html_login":
            self._send(
                200,
                b"<!doctype html><html><body><form action='/login'>Sign in</form></body></html>",
                "text/html; charset=utf-8",
            )
        elif mode == "redirect_loop":
            self._send(302, b"", "text/plain", headers={"Location": self.path})
        elif mode == "huge_body":
            self._huge_body()
        return True

    def _huge_body(self) -> None:
        """100 MB of JSON-looking bytes with no Content-Length (the client must cap it)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b'{"id": "emp_x", "first_name": "' + b"x" * 65000 + b'"},'
        try:
            self.wfile.write(b'{"data": [')
            sent = 0
            while sent < 100 * 1024 * 1024 and not self.state.stopping.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _oauth_post(self, path: str):
        oauth = self.state.oauth
        try:
            raw = self._raw_body()
        except ValueError as exc:
            return self._json(400, {"error": "invalid_request", "error_description": str(exc)})
        if path == "/oauth/authorize":
            status, target = sandbox_oauth.authorize_decision(oauth, sandbox_oauth.parse_form(raw))
            if status == 302:
                return self._send(302, b"", "text/plain", headers={"Location": target})
            return self._send(400, target.encode(), "text/plain; charset=utf-8")
        form = sandbox_oauth.token_form(raw, self.headers.get("Authorization", ""))
        if path == "/oauth/revoke":
            oauth.revoke(form.get("token", ""))
            return self._json(200, {})
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            status, body = oauth.exchange_code(form)
        elif grant_type == "refresh_token":
            status, body = oauth.refresh(form)
        else:
            status, body = 400, {"error": "unsupported_grant_type"}
        return self._send(status, json.dumps(body).encode(), headers={"Cache-Control": "no-store"})

    def do_POST(self):  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path in ("/oauth/authorize", "/oauth/token", "/oauth/revoke"):
            return self._oauth_post(parts.path)
        if not parts.path.startswith("/control/"):
            return self._json(404, {"error": "not_found"})
        token = self.headers.get("X-Sandbox-Control", "")
        if not hmac.compare_digest(token.encode(), self.state.control_token.encode()):
            return self._json(403, {"error": "bad_control_token"})
        try:
            body = self._body()
        except ValueError as exc:
            return self._json(400, {"error": "bad_request", "message": str(exc)})
        action = parts.path.removeprefix("/control/")
        state = self.state
        if action in ("outage", "oauth/outage") and body.get("mode") not in OUTAGE_MODES:
            return self._json(400, {"error": "bad_request", "message": f"mode must be one of {OUTAGE_MODES}"})
        if action.startswith("oauth/"):
            status, answer = state.oauth.control(action.removeprefix("oauth/"), body)
            return self._json(status, answer)
        key = str(body.get("api_key") or "")
        tenant = str(body.get("tenant") or "")
        if action in ("revoke", "rotate"):
            if not key.startswith(KEY_PREFIX):
                return self._json(400, {"error": "bad_request", "message": "api_key must be a sandbox key"})
            with state.lock:
                state.revoked.add((tenant, key))
                state.outages.pop((tenant, key), None)
            if action == "rotate":
                return self._json(200, {"api_key": KEY_PREFIX + secrets.token_urlsafe(24)})
            return self._json(200, {"revoked": True})
        if action == "outage":
            mode = body.get("mode")
            with state.lock:
                if key:
                    if mode == "none":
                        state.outages.pop((tenant, key), None)
                    else:
                        state.outages[(tenant, key)] = mode
                else:
                    state.global_outage = mode
            return self._json(200, {"mode": mode})
        if action == "latency":
            try:
                ms = int(body.get("ms"))
                if not 0 <= ms <= 60000:
                    raise ValueError
            except (TypeError, ValueError):
                return self._json(400, {"error": "bad_request", "message": "ms: 0..60000"})
            with state.lock:
                state.latency_ms = ms
            return self._json(200, {"ms": ms})
        if action == "reset":
            state.reset()
            return self._json(200, {"reset": True})
        return self._json(404, {"error": "not_found"})


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def make_server(host: str, port: int, state: SandboxState) -> SandboxServer:
    handler = type("BoundHandler", (Handler,), {"state": state})
    return SandboxServer((host, port), handler)


class RunningSandbox:
    def __init__(self, server: SandboxServer, state: SandboxState, thread: threading.Thread):
        self.server, self.state, self.thread = server, state, thread
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.state.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(
    *, control_token: str, host: str = "127.0.0.1", port: int = 0, **state_kwargs
) -> RunningSandbox:
    state = SandboxState(control_token=control_token, **state_kwargs)
    server = make_server(host, port, state)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-provider", daemon=True)
    thread.start()
    return RunningSandbox(server, state, thread)
