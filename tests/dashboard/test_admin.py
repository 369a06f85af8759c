"""Django admin: every model of the four apps is registered, and every changelist and change
page opens for a superuser on seeded data (read-mostly: no secrets in the forms)."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from .seed import seed

APPS = ("accounts", "issues", "syncs", "linking")


def all_models():
    return [m for label in APPS for m in apps.get_app_config(label).get_models()]


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m._meta.label)
def test_every_model_is_registered(model):
    assert admin.site.is_registered(model), f"{model._meta.label} has no admin"


def test_admin_pages_open_and_hide_secrets(owner):
    data = seed(owner, 3)
    user = get_user_model().objects.create_superuser(username="root", password="root-password-1")
    client = Client()
    client.force_login(user)
    account, token = data["accounts"][0]
    for model in all_models():
        if not admin.site.is_registered(model):
            continue
        meta = model._meta
        response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert response.status_code == 200, meta.label
        obj = model._default_manager.first()
        if obj is not None:
            change = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
            assert change.status_code == 200, meta.label
            html = change.content.decode()
            assert token not in html, meta.label
            assert data["signature_key"] not in html, meta.label
            assert "sk_sandbox_" not in html, meta.label
