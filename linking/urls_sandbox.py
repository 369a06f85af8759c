from django.urls import path

from . import views

# Mounted under /api/sandbox/v1/ by config.urls.
urlpatterns = [
    path("public-token", views.SandboxPublicTokenView.as_view(), name="sandbox-public-token"),
]
