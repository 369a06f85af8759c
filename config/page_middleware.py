"""The middleware only pages need, skipped for JSON API requests.

Sessions, the logged-in user, flash messages and htmx serve the dashboard, the link page and
the admin; an API request is authenticated by its key and reads none of them, yet each used to
run on every API call. (CSRF stays Django's own: its deploy check looks for that class by name,
and it costs an API request little, DRF's views being CSRF-exempt.) Each class here is the library's own
middleware (a subclass, so Django's admin checks still find it) that passes an API request
straight on. The Content-Security-Policy of an API answer is the site's default policy, built
once instead of per response. "API request" means a path under /api/ other than the API
reference page (/api/docs/, an HTML page with a policy of its own, config/urls.py).

Hand-written: Django builds one middleware chain for every path and has no per-path chain.
"""

from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.contrib.auth.middleware import AuthenticationMiddleware as BaseAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as BaseMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as BaseSessionMiddleware
from django_htmx.middleware import HtmxMiddleware as BaseHtmxMiddleware

API_PREFIX = "/api/"
# Pages under /api/: they keep the whole chain.
API_PAGES = ("/api/docs/",)


def is_api_request(request) -> bool:
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(API_PAGES)


def _pages_only(base: type) -> type:
    """`base`, doing nothing for API requests (its hooks, if any, included)."""

    def __call__(self, request):
        if is_api_request(request):
            return self.get_response(request)
        return base.__call__(self, request)

    namespace = {"__call__": __call__, "__doc__": f"{base.__doc__ or base.__name__} Pages only."}
    if hasattr(base, "process_view"):

        def process_view(self, request, view_func, view_args, view_kwargs):
            if is_api_request(request):
                return None
            return base.process_view(self, request, view_func, view_args, view_kwargs)

        namespace["process_view"] = process_view
    for hook in ("process_template_response", "process_exception"):
        if hasattr(base, hook):  # none of the classes below has one: refuse to guess
            raise TypeError(f"{base.__name__}.{hook} is not handled here")
    return type(base.__name__, (base,), {**namespace, "__module__": __name__})


SessionMiddleware = _pages_only(BaseSessionMiddleware)
AuthenticationMiddleware = _pages_only(BaseAuthenticationMiddleware)
MessageMiddleware = _pages_only(BaseMessageMiddleware)
HtmxMiddleware = _pages_only(BaseHtmxMiddleware)


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; an API answer gets the default policy, built once (an answer
    that set its own header keeps it)."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.api_policies = [
            (header, policy)
            for header, policy in (
                (CSP_HEADER, build_policy()),
                (CSP_HEADER_REPORT_ONLY, build_policy(report_only=True)),
            )
            if policy
        ]

    def __call__(self, request):
        if not is_api_request(request):
            return super().__call__(request)
        response = self.get_response(request)
        for header, policy in self.api_policies:
            if header not in response:
                response[header] = policy
        return response
