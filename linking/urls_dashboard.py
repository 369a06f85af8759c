from django.urls import path

from . import views_dashboard as views

urlpatterns = [
    path("accounts", views.account_list, name="dash-accounts"),
    path("accounts/<uuid:account_id>", views.account_detail, name="dash-account"),
    path("accounts/<uuid:account_id>/sync-badge", views.sync_badge, name="dash-account-sync-badge"),
    path("accounts/<uuid:account_id>/resync", views.account_resync, name="dash-account-resync"),
    path(
        "accounts/<uuid:account_id>/relink-email",
        views.account_relink_email,
        name="dash-account-relink-email",
    ),
    path("accounts/<uuid:account_id>/magic-link", views.account_magic_link, name="dash-account-magic-link"),
    path(
        "accounts/<uuid:account_id>/sync-frequency",
        views.account_sync_frequency,
        name="dash-account-sync-frequency",
    ),
    path("accounts/<uuid:account_id>/delete", views.account_delete, name="dash-account-delete"),
]
