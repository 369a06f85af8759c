"""Web origins (`scheme://host[:port]`) an organization allows to embed its link page: they
become the link page's CSP `frame-ancestors` and the only targets of its postMessage, so each
must be exactly an origin (no path, wildcard, credentials or CSP keyword can slip into the
header). https, or http for localhost during development."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_ORIGINS = 20
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_url_validator = URLValidator(schemes=["http", "https"])


def origin_normalize(value: str) -> str:
    """The origin in canonical form (lowercase, default port dropped, one trailing "/" allowed
    on input). Raises ValidationError naming the value otherwise."""
    raw = (value or "").strip()
    problem = ValidationError(
        f"“{raw[:100]}” is not an origin: write scheme://host[:port], e.g. https://app.example.com.",
        code="origin",
    )
    if not raw or any(c.isspace() for c in raw) or "*" in raw or "," in raw or ";" in raw:
        raise problem
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise problem from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        raise problem
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise problem
    try:
        _url_validator(raw)
    except ValidationError:
        raise problem from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if scheme == "http" and host not in _LOCAL_HOSTS:
        raise ValidationError(
            f"“{raw[:100]}”: use https (http only for localhost while developing).", code="origin_http"
        )
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}"


def origins_normalize(values: list[str]) -> list[str]:
    """Each origin normalised, duplicates and blanks dropped, order kept. ValidationError lists
    every bad value."""
    origins: list[str] = []
    errors: list[ValidationError] = []
    for value in values:
        if not value or not value.strip():
            continue
        try:
            origin = origin_normalize(value)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if origin not in origins:
            origins.append(origin)
    if errors:
        raise ValidationError(errors)
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(f"At most {MAX_ORIGINS} embedding origins.", code="too_many")
    return origins
