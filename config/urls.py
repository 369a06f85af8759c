from csp.decorators import csp_update
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

from .converters import CategoryConverter

register_converter(CategoryConverter, "category")

api_patterns = [
    path("", include("accounts.urls")),
    path("", include("issues.urls")),
    path("", include("syncs.urls")),
    path("", include("linking.urls")),
]

# The schema and its docs page are public; every API operation still needs a key.
public = {"authentication_classes": [], "permission_classes": [AllowAny]}

sandbox_patterns = [
    path("", include("syncs.urls_sandbox")),
    path("", include("linking.urls_sandbox")),
]

urlpatterns = [
    path("api/<category:category>/v1/", include(api_patterns)),
    path("api/sandbox/v1/", include(sandbox_patterns)),
    path("api/billing/v1/", include("accounts.urls_billing")),
    path("api/schema/", SpectacularAPIView.as_view(**public), name="schema"),
    # Redoc styles itself with <style> elements it inserts and renders in a blob: worker; the
    # page shows only the public schema.
    path(
        "api/docs/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="schema", **public)
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    # The end-user link/relink page.
    path("link/", include("linking.urls_public")),
    # The operator dashboard: each app serves its own pages.
    path("", include("accounts.urls_dashboard")),
    path("", include("issues.urls_dashboard")),
    path("", include("syncs.urls_dashboard")),
    path("", include("linking.urls_dashboard")),
]


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    from django.views.defaults import server_error

    return server_error(request)
