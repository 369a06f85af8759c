"""The sync parts of the dashboard: running-sync badges, an account's sync panel, force resync."""

from django.urls import path

from . import views_dashboard as views

urlpatterns = [
    path("accounts/sync-badges", views.sync_badges, name="dash-account-sync-badges"),
    path("accounts/<uuid:account_id>/sync-badge", views.sync_badge, name="dash-account-sync-badge"),
    path("accounts/<uuid:account_id>/sync-runs", views.account_sync_runs, name="dash-account-sync-runs"),
    path("accounts/<uuid:account_id>/resync", views.account_resync, name="dash-account-resync"),
]
