"""Answers /healthz, /readyz and /metrics before any other middleware runs: load balancers and
Prometheus call them by address (no ALLOWED_HOSTS check), over plain HTTP inside the network
(no HTTPS redirect), many times a minute (no session, no CSRF, no rate limit, and no access-log
line: config/logging.AccessLogFilter; a refused /metrics scrape is still logged as a warning).
None of them shows tenant data."""

from django.http import HttpResponse

from . import health, metrics

ROUTES = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics_view}


class OpsEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = ROUTES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        response = view(request)
        if view is not metrics.metrics_view:
            # A 503 from /readyz is an answer to a probe, not an error of this process: Django's
            # request logger would print one warning per probe while a dependency is down.
            response._has_been_logged = True
        return response
