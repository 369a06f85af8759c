"""Login throttling at the authentication backend, so that every way in is covered.

Throttling only the dashboard's /login view left /admin/login/ (and any future path that calls
`authenticate()`) open to unlimited password guessing. The check therefore sits in the backend
every login goes through. We extend our own Redis throttle (accounts.login_throttle) instead of
adding django-axes: the counters already live in Redis next to the API rate limits, need no
table written on every failed attempt, and fail open with the same one-warning breaker when Redis
is down; axes would bring a second lockout store and its own settings for the same rule.
"""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from .login_throttle import client_ip, login_failure_record, login_lock_check, login_success_record


class ThrottledModelBackend(ModelBackend):
    """Django's model backend behind the login throttle.

    While a lock holds (per username+address, per username across addresses, per address), the
    password is not even checked: `PermissionDenied` stops `authenticate()` at once, so a locked
    out guesser learns nothing. Each failure counts; a success clears its username+address counter.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field(), "")
        ip = client_ip(request) if request is not None else ""
        if login_lock_check(username=username or "", ip=ip) is not None:
            raise PermissionDenied("login locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username or "", ip=ip)
        else:
            login_success_record(username=user.get_username(), ip=ip)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
