"""The sandbox provider's OAuth 2.0 authorization server (stdlib only; served by
syncs/sandbox_provider.py in the same process and on the same socket as the sandbox HRIS).

Hand-written on purpose: it plays a THIRD-PARTY provider in tests and demos, with misbehaviour
on demand (revoked grants, expired or narrowed tokens, grant ends) and counters a test can read
(how often a spent refresh token came back). A library authorization server would hide exactly
the parts under test. Relink's own side of the protocol is Authlib's client.

Routes:
  GET  /oauth/authorize   consent page: the requested scopes (each a checkbox) and "Allow"/"Deny"
  POST /oauth/authorize   the decision -> 302 to redirect_uri with ?code=…&state=… or ?error=access_denied
  POST /oauth/token       authorization_code (PKCE S256 checked) and refresh_token grants; refresh
                          tokens rotate and are single use: a spent one answers invalid_grant and is
                          COUNTED (``reuse_count``)
  POST /oauth/revoke      RFC 7009: the grant the token belongs to is revoked
Clients (public, PKCE): ``sandbox_oauth`` (scope employees:read) and ``sandbox_crm`` (contacts:read).
Access tokens (``at_…``) sign data calls; ``data_call_check`` says 401/403 for bad ones.

Controls (X-Sandbox-Control), body {"token": <an access or refresh token of the grant>}:
  POST /control/oauth/revoke-grant | expire-access-token | remove-permission {scope}
       | grant-expiry {days} | outage {mode} | stats | config {access_token_seconds} | reset
An outage is the grant's: its data calls act it out (as a key's do) whatever access token the
grant has by then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

CLIENTS: dict[str, tuple[str, ...]] = {
    "sandbox_oauth": ("employees:read",),
    "sandbox_crm": ("contacts:read",),
}
# Which scope each data path needs.
PATH_SCOPES = {"/v1/employees": "employees:read", "/v1/contacts": "contacts:read"}
SCOPE_LABELS = {"employees:read": "Read your employee directory", "contacts:read": "Read your CRM contacts"}
CODE_TTL = 600


@dataclass
class Grant:
    id: str
    client_id: str
    scopes: set[str]
    revoked: bool = False
    expires_at: float | None = None  # absolute end (grant-expiry helper)
    refresh_token: str = ""
    outage: str = ""  # an outage mode of the data API for this grant (provider-outage helper)


@dataclass
class OAuthState:
    access_token_seconds: int = 3600
    # Signs the tokens, so that a restarted provider (`make run` restarts it; the demo seed uses
    # a private one) still knows the grants it issued: a valid token it has not seen restores
    # its grant. What it forgets on restart: revocations and which refresh tokens were spent.
    secret: str = "sandbox"
    lock: threading.Lock = field(default_factory=threading.Lock)
    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, dict] = field(default_factory=dict)
    refresh_tokens: dict[str, dict] = field(default_factory=dict)  # token -> {grant, used}
    access_tokens: dict[str, dict] = field(default_factory=dict)  # token -> {grant, expires_at}
    reuse_count: int = 0
    refresh_count: int = 0
    exchange_count: int = 0

    def reset(self) -> None:
        with self.lock:
            self.grants.clear()
            self.codes.clear()
            self.refresh_tokens.clear()
            self.access_tokens.clear()
            self.reuse_count = self.refresh_count = self.exchange_count = 0

    def stats(self) -> dict:
        with self.lock:
            return {
                "reuse_count": self.reuse_count,
                "refresh_count": self.refresh_count,
                "exchange_count": self.exchange_count,
                "grants": len(self.grants),
            }

    # --- tokens ------------------------------------------------------------------------------------
    def _mint(self, prefix: str, grant: Grant, expires_at: float = 0) -> str:
        payload = json.dumps(
            {
                "g": grant.id,
                "c": grant.client_id,
                "s": sorted(grant.scopes),
                "e": expires_at,
                "n": secrets.token_hex(8),
            },
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        sig = hmac.new(self.secret.encode(), f"{prefix}{body}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{prefix}{body}.{sig}"

    def _restore(self, token: str) -> None:
        """A well-signed token this process never issued (it restarted): learn its grant."""
        prefix = token[:3]
        if prefix not in ("at_", "rt_") or token in self.access_tokens or token in self.refresh_tokens:
            return
        body, _, sig = token[3:].partition(".")
        expected = hmac.new(self.secret.encode(), f"{prefix}{body}".encode(), hashlib.sha256).hexdigest()[:32]
        if not sig or not hmac.compare_digest(sig, expected):
            return
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return
        grant = self.grants.get(data["g"])
        if grant is None:
            grant = self.grants[data["g"]] = Grant(id=data["g"], client_id=data["c"], scopes=set(data["s"]))
        if prefix == "at_":
            self.access_tokens[token] = {"grant": grant.id, "expires_at": float(data["e"])}
        else:
            self.refresh_tokens[token] = {"grant": grant.id, "used": False}

    def _issue(self, grant: Grant, now: float) -> dict:
        access = self._mint("at_", grant, now + self.access_token_seconds)
        refresh = self._mint("rt_", grant)
        self.access_tokens[access] = {"grant": grant.id, "expires_at": now + self.access_token_seconds}
        self.refresh_tokens[refresh] = {"grant": grant.id, "used": False}
        grant.refresh_token = refresh
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_seconds,
            "refresh_token": refresh,
            "scope": " ".join(sorted(grant.scopes)),
        }
        return body

    def grant_for(self, token: str) -> Grant | None:
        self._restore(token)
        entry = self.access_tokens.get(token) or self.refresh_tokens.get(token)
        return self.grants.get(entry["grant"]) if entry else None

    def exchange_code(self, form: dict[str, str]) -> tuple[int, dict]:
        now = time.time()
        with self.lock:
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry["expires_at"] < now:
                return 400, {"error": "invalid_grant", "error_description": "Unknown, used or expired code."}
            if entry["client_id"] != form.get("client_id") or entry["redirect_uri"] != form.get(
                "redirect_uri"
            ):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "client_id or redirect_uri mismatch.",
                }
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if not verifier or not hmac.compare_digest(digest, entry["challenge"]):
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed."}
            grant = Grant(id=secrets.token_hex(8), client_id=entry["client_id"], scopes=set(entry["scopes"]))
            self.grants[grant.id] = grant
            self.exchange_count += 1
            return 200, self._issue(grant, now)

    def refresh(self, form: dict[str, str]) -> tuple[int, dict]:
        now = time.time()
        with self.lock:
            self._restore(form.get("refresh_token", ""))
            entry = self.refresh_tokens.get(form.get("refresh_token", ""))
            if entry is None:
                return 400, {"error": "invalid_grant", "error_description": "Unknown refresh token."}
            if entry["used"]:
                self.reuse_count += 1
                return 400, {"error": "invalid_grant", "error_description": "Refresh token already used."}
            grant = self.grants[entry["grant"]]
            if grant.client_id != form.get("client_id", grant.client_id):
                return 400, {"error": "invalid_grant", "error_description": "Token issued to another client."}
            if grant.revoked:
                return 400, {"error": "invalid_grant", "error_description": "The grant has been revoked."}
            if grant.expires_at is not None and grant.expires_at <= now:
                return 400, {"error": "invalid_grant", "error_description": "The grant has expired."}
            entry["used"] = True
            self.refresh_count += 1
            body = self._issue(grant, now)
            if grant.expires_at is not None:
                body["refresh_token_expires_in"] = int(grant.expires_at - now)
            return 200, body

    def revoke(self, token: str) -> None:
        with self.lock:
            grant = self.grant_for(token)
            if grant is not None:
                grant.revoked = True

    def data_call_check(self, token: str, path: str) -> tuple[int, dict, dict] | None:
        """None when the access token may read `path`; else (status, body, headers)."""
        with self.lock:
            self._restore(token)
            entry = self.access_tokens.get(token)
            grant = self.grants.get(entry["grant"]) if entry else None
            if entry is None or grant is None or grant.revoked or entry["expires_at"] <= time.time():
                return (
                    401,
                    {
                        "error": "invalid_token",
                        "error_description": "The access token is invalid or expired.",
                    },
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            needed = PATH_SCOPES.get(path)
            if needed and needed not in grant.scopes:
                return (
                    403,
                    {"error": "insufficient_scope", "error_description": f"This grant lacks {needed}."},
                    {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
                )
        return None

    def outage_for(self, token: str) -> str:
        """The outage mode of the grant an access token belongs to ("" when none). It is the
        grant's, so it outlives refreshes (an API-key account's outage is its key's)."""
        with self.lock:
            grant = self.grant_for(token)
            return grant.outage if grant is not None else ""

    # --- the helpers ----------------------------------------------------------------------------------
    def control(self, action: str, body: dict) -> tuple[int, dict]:
        if action == "stats":
            return 200, self.stats()
        if action == "reset":
            self.reset()
            return 200, {"reset": True}
        if action == "config":
            try:
                seconds = int(body.get("access_token_seconds"))
                if not 1 <= seconds <= 86400 * 30:
                    raise ValueError
            except (TypeError, ValueError):
                return 400, {"error": "bad_request", "message": "access_token_seconds: 1..2592000"}
            with self.lock:
                self.access_token_seconds = seconds
            return 200, {"access_token_seconds": seconds}
        with self.lock:
            grant = self.grant_for(str(body.get("token") or ""))
            if grant is None:
                return 404, {"error": "unknown_grant"}
            if action == "revoke-grant":
                grant.revoked = True
            elif action == "expire-access-token":
                for entry in self.access_tokens.values():
                    if entry["grant"] == grant.id:
                        entry["expires_at"] = 0
            elif action == "outage":  # the mode is checked by the provider (its OUTAGE_MODES)
                mode = str(body.get("mode") or "none")
                grant.outage = "" if mode == "none" else mode
                return 200, {"mode": mode}
            elif action == "remove-permission":
                grant.scopes.discard(str(body.get("scope") or ""))
            elif action == "grant-expiry":
                try:
                    days = float(body.get("days"))
                except (TypeError, ValueError):
                    return 400, {"error": "bad_request", "message": "days: a number"}
                grant.expires_at = time.time() + days * 86400
            else:
                return 404, {"error": "not_found"}
            return 200, {"ok": True, "scopes": sorted(grant.scopes), "revoked": grant.revoked}


# --- the consent page -------------------------------------------------------------------------------
def authorize_problem(query: dict[str, str]) -> str | None:
    client = query.get("client_id", "")
    if client not in CLIENTS:
        return "Unknown client_id."
    if query.get("response_type") != "code":
        return "response_type must be code."
    redirect = urlsplit(query.get("redirect_uri", ""))
    if redirect.scheme not in ("http", "https") or not redirect.netloc:
        return "redirect_uri must be an absolute http(s) URL."
    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
        return "PKCE with code_challenge_method=S256 is required."
    return None


def consent_page(query: dict[str, str]) -> str:
    requested = query.get("scope", "").split() or list(CLIENTS[query["client_id"]])
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query.items()
        if k
        in ("client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method")
    )
    boxes = "".join(
        f'<li><label><input type="checkbox" name="scope" value="{html.escape(s)}" checked> '
        f"{html.escape(SCOPE_LABELS.get(s, s))} <code>{html.escape(s)}</code></label></li>"
        for s in requested
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Authorize Relink · Sandbox</title>
<style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
button{{font:inherit;padding:.6rem 1.2rem;margin:.25rem .5rem .25rem 0;min-height:44px}}
ul{{list-style:none;padding:0}}li{{margin:.5rem 0}}</style></head><body><main>
<h1>Sandbox provider</h1><p><strong>Relink</strong> asks for access to your sandbox company:</p>
<form method="post" action="/oauth/authorize">{hidden}<fieldset><legend>Permissions</legend><ul>{boxes}</ul></fieldset>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form></main></body></html>"""


def authorize_decision(state: OAuthState, form: dict[str, list[str]]) -> tuple[int, str]:
    """The consent form's answer: (status, redirect location or error text)."""
    single = {k: v[0] for k, v in form.items() if v}
    problem = authorize_problem(single)
    if problem:
        return 400, problem
    params: dict[str, str] = {}
    if single.get("decision") == "allow":
        code = "code_" + secrets.token_urlsafe(24)
        with state.lock:
            state.codes[code] = {
                "client_id": single["client_id"],
                "redirect_uri": single["redirect_uri"],
                "scopes": form.get("scope", []),
                "challenge": single["code_challenge"],
                "expires_at": time.time() + CODE_TTL,
            }
        params["code"] = code
    else:
        params["error"] = "access_denied"
        params["error_description"] = "The user denied the request."
    if single.get("state"):
        params["state"] = single["state"]
    parts = urlsplit(single["redirect_uri"])
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return 302, urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def parse_form(raw: bytes) -> dict[str, list[str]]:
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


def token_form(raw: bytes, authorization: str) -> dict[str, str]:
    form = {k: v[0] for k, v in parse_form(raw).items() if v}
    if authorization.lower().startswith("basic ") and "client_id" not in form:
        try:
            client_id = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
            form["client_id"] = client_id
        except (ValueError, UnicodeDecodeError):
            pass
    return form
