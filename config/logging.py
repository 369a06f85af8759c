"""Logging for every process: `LOG_FORMAT=json` prints one JSON object per line (formatted by
python-json-logger), `plain` (the default) one readable line. Each record carries the request
id, organization id and linked-account id of the work in progress (accounts/log_context.py)
where they are known. Both formats mask tokens in the finished line (message, traceback, extra
fields): a token that slipped into a log call is replaced before it is written.

The request id comes from the caller's `X-Request-ID` (when it looks like an id) or is made
here, is set on the response, and is what gunicorn's access log prints (config/gunicorn.conf.py).
This module imports no Django at module level: gunicorn's master process loads it from its
config file."""

import logging
import re
import uuid

from accounts.log_context import FIELDS, log_context_bind, log_context_clear, log_context_current
from config.redaction import redact as redact_tokens

# Beyond the token shapes config/redaction.py masks (link, public and account tokens, API keys,
# credential query parameters): webhook signature keys, Authorization header values, and
# key=value pairs that name a secret.
_MORE_REDACTIONS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 [redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), "whsec_[redacted]"),
    (
        re.compile(
            r"(?i)\b(api_key|apikey|password|secret|access_token|refresh_token|client_secret)=[^&\s\"']+"
        ),
        r"\1=[redacted]",
    ),
]

# Load-balancer probes and scrapes: answered, never written to the access log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


def redact(text: str) -> str:
    text = redact_tokens(text)
    for pattern, replacement in _MORE_REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Adds the log-context ids to every record (on the handler, so that records of every logger
    pass it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context_current().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class RedactingFormatter(logging.Formatter):
    """The plain format, with tokens masked in the whole line (message, traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class AccessLogFilter(logging.Filter):
    """gunicorn's access log: no line for probes and scrapes (its logger class masks tokens in the
    lines it does write: config/redaction.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args if isinstance(record.args, dict) else None
        return atoms is None or atoms.get("U") not in QUIET_PATHS


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    class RedactingJsonFormatter(JsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            # Masks match no quote or backslash, so the line stays valid JSON.
            return redact(super().format(record))

    return RedactingJsonFormatter(
        "{asctime}{levelname}{name}{message}" + "".join("{" + f + "}" for f in FIELDS),
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        # Django passes the request object along with its 4xx/5xx lines: its repr is the full
        # path, headers aside; the message already names the path.
        reserved_attrs=[*RESERVED_ATTRS, "request"],
    )


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting (dictConfig) for LOG_FORMAT `json` or `plain`."""
    if log_format not in ("json", "plain"):
        raise ValueError(f"LOG_FORMAT must be 'json' or 'plain', not {log_format!r}")
    formatters = {
        "plain": {
            "()": "config.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logging.json_formatter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "config.logging.ContextFilter"},
            # The record itself is masked too (config/redaction.py), for anything else that reads it.
            "redact_tokens": {"()": "config.redaction.RedactTokensFilter"},
        },
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["redact_tokens", "context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own default handlers (DEBUG only) would print request warnings unmasked:
            # one handler for everything.
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            # httpx logs every request URL at INFO; provider URLs may carry secrets.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


class RequestIdMiddleware:
    """Binds a request id (the caller's X-Request-ID when it looks like one) for the request's
    log lines and returns it as X-Request-ID. Authentication binds the organization and account
    (accounts/authentication.py, accounts/dashboard.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        # Cleared when a request starts, not when it ends: Django logs a 4xx/5xx answer after
        # the middleware has returned, and that line should name the request too.
        log_context_clear()
        log_context_bind(request_id=request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
