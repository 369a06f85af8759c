from django.urls import path

from . import views_billing

# Mounted under /api/billing/v1/ by config.urls.
urlpatterns = [
    path("usage", views_billing.UsageView.as_view(), name="billing-usage"),
]
