from django.urls import path  # noqa: F401

# Mounted under /api/<category>/v1/ by config.urls.
urlpatterns: list = []
