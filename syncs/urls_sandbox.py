from django.urls import path

from . import views

# Mounted under /api/sandbox/v1/ by config.urls (test API keys only).
urlpatterns = [
    path("reset-login", views.ResetLoginView.as_view(), name="sandbox-reset-login"),
    path("provider-outage", views.ProviderOutageView.as_view(), name="sandbox-provider-outage"),
]
