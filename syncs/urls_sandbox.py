from django.urls import path

from . import views, views_sandbox_oauth

# Mounted under /api/sandbox/v1/ by config.urls (test API keys only).
urlpatterns = [
    path("reset-login", views.ResetLoginView.as_view(), name="sandbox-reset-login"),
    path("provider-outage", views.ProviderOutageView.as_view(), name="sandbox-provider-outage"),
    path(
        "expire-access-token",
        views_sandbox_oauth.ExpireAccessTokenView.as_view(),
        name="sandbox-expire-access-token",
    ),
    path(
        "remove-permission",
        views_sandbox_oauth.RemovePermissionView.as_view(),
        name="sandbox-remove-permission",
    ),
    path("grant-expiry", views_sandbox_oauth.GrantExpiryView.as_view(), name="sandbox-grant-expiry"),
]
