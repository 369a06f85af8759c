"""Login throttling: failed logins counted in Redis per (username, client IP), per username
across addresses (a slow spray from many addresses) and per client IP. accounts.auth_backends
applies it to every login path (the dashboard and the Django admin). Past a limit the login
is refused without checking the password until the window ends, so that a locked-out attacker
learns nothing more. A successful login clears its
(username, IP) counter. Redis unreachable: logins are not throttled (see accounts.ratelimit)."""

from django.conf import settings

from . import ratelimit

LOCK_REASON = "Too many failed login attempts."


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
    user = username.strip().lower()
    return [
        ratelimit.hashed_limit(
            scope="login-user-ip",
            key=f"{user}|{ip}",
            limit=settings.LOGIN_FAILURES_PER_USER_IP,
            window=window,
        ),
        ratelimit.hashed_limit(
            scope="login-user", key=user, limit=settings.LOGIN_FAILURES_PER_USER, window=window
        ),
        ratelimit.hashed_limit(scope="login-ip", key=ip, limit=settings.LOGIN_FAILURES_PER_IP, window=window),
    ]


def login_lock_check(*, username: str, ip: str) -> ratelimit.Lock | None:
    """The lock on this username from this IP (or on this username, or on this IP), if any."""
    counts = [ratelimit.peek(limit) for limit in _limits(username=username, ip=ip)]
    return ratelimit.lock_for([c for c in counts if c is not None], reason=LOCK_REASON, reached=True)


def login_failure_record(*, username: str, ip: str) -> ratelimit.Lock | None:
    """Count a failed login; the lock it brings about, if it was the last one allowed."""
    return ratelimit.lock_for(
        ratelimit.hit(_limits(username=username, ip=ip)), reason=LOCK_REASON, reached=True
    )


def login_success_record(*, username: str, ip: str) -> None:
    ratelimit.clear(_limits(username=username, ip=ip)[0])
