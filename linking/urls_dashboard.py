"""The relink parts of an account page: its panel (relink e-mails sent), the relink e-mail and
the magic link."""

from django.urls import path

from . import views_dashboard as views

urlpatterns = [
    path("accounts/<uuid:account_id>/relink", views.account_relink, name="dash-account-relink"),
    path(
        "accounts/<uuid:account_id>/relink-email",
        views.account_relink_email,
        name="dash-account-relink-email",
    ),
    path("accounts/<uuid:account_id>/magic-link", views.account_magic_link, name="dash-account-magic-link"),
]
