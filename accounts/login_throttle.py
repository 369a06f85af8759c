"""Login throttling: failed logins counted in Redis per (username, client IP), per username
across addresses (a slow spray from many addresses) and per client IP. accounts.auth_backends
applies it to every login path (the dashboard and the Django admin). Past a limit the login is refused without checking the password until the window
ends, so that a locked-out attacker learns nothing more. A successful login clears its
(username, IP) counter. Redis unreachable: logins are not throttled (see accounts.ratelimit)."""

from dataclasses import dataclass

from django.conf import settings

from . import ratelimit
from .crypto import token_hash


@dataclass(frozen=True)
class LoginLock:
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many failed login attempts. Try again in {minutes} {unit}."


def client_ip(request) -> str:
    """REMOTE_ADDR, or with LOGIN_TRUSTED_PROXIES = n > 0 the n-th address from the right of
    X-Forwarded-For (the one the nearest trusted proxy saw)."""
    proxies = settings.LOGIN_TRUSTED_PROXIES
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def _limits(*, username: str, ip: str) -> list[ratelimit.Limit]:
    window = settings.LOGIN_LOCKOUT_SECONDS
    user_ip = token_hash(f"login:{username.strip().lower()}|{ip}")[:40]
    return [
        ratelimit.Limit(
            scope="login-user-ip", ident=user_ip, limit=settings.LOGIN_FAILURES_PER_USER_IP, window=window
        ),
        ratelimit.Limit(
            scope="login-user",
            ident=token_hash(f"login-user:{username.strip().lower()}")[:40],
            limit=settings.LOGIN_FAILURES_PER_USER,
            window=window,
        ),
        ratelimit.Limit(
            scope="login-ip",
            ident=token_hash(f"login-ip:{ip}")[:40],
            limit=settings.LOGIN_FAILURES_PER_IP,
            window=window,
        ),
    ]


def login_lock_check(*, username: str, ip: str) -> LoginLock | None:
    """The lock on this username from this IP (or on this username, or on this IP), if any."""
    for limit in _limits(username=username, ip=ip):
        count = ratelimit.peek(limit)
        if count is not None and count.count >= limit.limit:
            return LoginLock(retry_after=count.retry_after)
    return None


def login_failure_record(*, username: str, ip: str) -> LoginLock | None:
    """Count a failed login; the lock it brings about, if it was the last one allowed."""
    counts = ratelimit.hit(_limits(username=username, ip=ip)) or []
    locked = [c for c in counts if c.count >= c.limit.limit]
    if locked:
        return LoginLock(retry_after=max(c.retry_after for c in locked))
    return None


def login_success_record(*, username: str, ip: str) -> None:
    ratelimit.clear(_limits(username=username, ip=ip)[0])
