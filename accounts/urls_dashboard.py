from django.contrib.auth import views as auth_views
from django.urls import path

from . import views_dashboard as views
from . import views_linked_accounts as linked_accounts
from .views_login import ThrottledLoginView

urlpatterns = [
    path("login", ThrottledLoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="dash-home"),
    path("organization", views.organization_switch, name="dash-org-switch"),
    path("billing", views.billing, name="dash-billing"),
    path("billing.csv", views.billing_csv, name="dash-billing-csv"),
    path("settings", views.settings_page, name="dash-settings"),
    path("settings/api-keys", views.api_key_create, name="dash-api-key-create"),
    path("settings/api-keys/<uuid:key_id>/revoke", views.api_key_revoke, name="dash-api-key-revoke"),
    # The Linked accounts list and an account page's frame; its panels are served by syncs,
    # issues and linking under accounts/<id>/….
    path("accounts", linked_accounts.account_list, name="dash-accounts"),
    path("accounts/<uuid:account_id>", linked_accounts.account_detail, name="dash-account"),
    path(
        "accounts/<uuid:account_id>/sync-frequency",
        linked_accounts.account_sync_frequency,
        name="dash-account-sync-frequency",
    ),
    path("accounts/<uuid:account_id>/delete", linked_accounts.account_delete, name="dash-account-delete"),
]
