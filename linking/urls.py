from django.urls import path

from . import views

# Mounted under /api/<category>/v1/ by config.urls (after accounts.urls: POST
# account-token/regenerate is matched there first).
urlpatterns = [
    path("link-token", views.LinkTokenView.as_view(), name="link-token"),
    path("account-token/<str:public_token>", views.AccountTokenView.as_view(), name="account-token"),
]
