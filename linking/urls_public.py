from django.urls import path

from . import views_public

# Mounted under /link/ by config.urls.
urlpatterns = [
    path("<str:token>", views_public.link_page, name="link-page"),
    path("<str:token>/<slug:integration>", views_public.link_form, name="link-form"),
    path("<str:token>/<slug:integration>/submit", views_public.link_submit, name="link-submit"),
]
