"""Masking live tokens in log lines, for every logger and for gunicorn's access log.

Link tokens travel in the link page's path (`/link/lt_…`), public tokens in
`/account-token/pt_…`, and callers may put an account token in a query string
(`GET /issues?account_token=…`). Any line that names such a URL (an access-log line, Django's
CSRF and 405 warnings, an exception's message) would otherwise carry a live credential into the
logs. A regular expression per token shape is enough, and no library does this for us: the
shapes are our own.
"""

import logging
import re

_MASK = "[redacted]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Our own prefixed tokens, wherever they stand: link, public, API keys.
    (re.compile(r"\b(lt_|pt_|rl_live_|rl_test_)[A-Za-z0-9_\-]{8,}"), rf"\1{_MASK}"),
    # The path segment after /link/ (link and magic-link pages, whatever the token's shape).
    (re.compile(r"(/link/)(?!oauth/)[^/?#\s\"']+"), rf"\1{_MASK}"),
    (re.compile(r"(/account-token/)(?!regenerate\b)[^/?#\s\"']+"), rf"\1{_MASK}"),
    # Query-string values that are credentials.
    (
        re.compile(r"([?&](?:account_token|public_token|link_token|token|code|state)=)[^&#\s\"']*"),
        rf"\1{_MASK}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokensFilter(logging.Filter):
    """A handler filter: the record's message is rendered once, masked, and frozen."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as it is  # noqa: BLE001
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def gunicorn_logger_class():
    """gunicorn's logger with the request line, URL and referer of each access-log line masked.
    Built lazily: gunicorn is not importable in every process that imports this module."""
    from gunicorn.glogging import Logger

    class RedactingGunicornLogger(Logger):
        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "q", "f", "{raw_uri}e"):
                value = atoms.get(key)
                if isinstance(value, str):
                    atoms[key] = redact(value)
            return atoms

    return RedactingGunicornLogger
