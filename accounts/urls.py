from django.urls import path

from . import views

# Mounted under /api/<category>/v1/ by config.urls.
urlpatterns = [
    path("account-details", views.AccountDetailsView.as_view(), name="account-details"),
    path("linked-accounts", views.LinkedAccountListView.as_view(), name="linked-accounts"),
    path("delete-account", views.DeleteAccountView.as_view(), name="delete-account"),
    path(
        "account-token/regenerate",
        views.RegenerateAccountTokenView.as_view(),
        name="account-token-regenerate",
    ),
]
