from django.urls import path

from . import views_oauth, views_public

# Mounted under /link/ by config.urls.
urlpatterns = [
    # Before the token patterns: "oauth/callback" would read as a token and an integration.
    path("oauth/callback", views_oauth.oauth_callback, name="link-oauth-callback"),
    path("<str:token>", views_public.link_page, name="link-page"),
    path("<str:token>/<slug:integration>", views_public.link_form, name="link-form"),
    path("<str:token>/<slug:integration>/oauth", views_oauth.oauth_start, name="link-oauth-start"),
    path("<str:token>/<slug:integration>/submit", views_public.link_submit, name="link-submit"),
]
