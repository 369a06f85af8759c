import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Membership, Organization


@pytest.mark.django_db
def test_create_organization_json_prints_working_keys(client):
    out = StringIO()
    call_command("create_organization", "Acme", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"organization_id", "production_api_key", "test_api_key"}
    org = Organization.objects.get(pk=data["organization_id"])
    assert org.name == "Acme"
    assert ApiKey.objects.filter(organization=org).count() == 2
    # Stored only as a keyed hash.
    assert not ApiKey.objects.filter(key_hash=data["production_api_key"]).exists()
    response = client.get("/api/hris/v1/linked-accounts", HTTP_AUTHORIZATION=f"Bearer {data['test_api_key']}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_create_organization_rejects_empty_name():
    with pytest.raises(CommandError):
        call_command("create_organization", "  ", stdout=StringIO())


@pytest.mark.django_db
def test_create_operator_with_membership(django_user_model):
    org = Organization.objects.create(name="Acme")
    call_command(
        "create_operator",
        "ops",
        "--password",
        "correct-horse-battery",
        "--organization",
        str(org.id),
        stdout=StringIO(),
    )
    user = django_user_model.objects.get(username="ops")
    assert user.check_password("correct-horse-battery")
    assert Membership.objects.filter(user=user, organization=org).exists()
    with pytest.raises(CommandError):
        call_command("create_operator", "x", "--password", "short", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command(
            "create_operator", "x", "--password", "long-enough-1", "--organization", "nope", stdout=StringIO()
        )


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    org = Organization.objects.get(name="Demo Co")
    statuses = set(org.linked_accounts.values_list("status", flat=True))
    assert statuses == {"COMPLETE", "RELINK_NEEDED", "IDLE", "INCOMPLETE"}


@pytest.mark.django_db
def test_create_operator_gives_the_admin_only_with_superuser(django_user_model, client):
    """Finding 1: every operator was made staff, so the admin login accepted every operator's password."""
    call_command("create_operator", "dash-only", "--password", "correct-horse-battery", stdout=StringIO())
    call_command(
        "create_operator",
        "admin-too",
        "--password",
        "correct-horse-battery",
        "--superuser",
        stdout=StringIO(),
    )
    dash_only = django_user_model.objects.get(username="dash-only")
    assert (dash_only.is_staff, dash_only.is_superuser) == (False, False)
    admin_too = django_user_model.objects.get(username="admin-too")
    assert (admin_too.is_staff, admin_too.is_superuser) == (True, True)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "dash-only", "password": "correct-horse-battery"}
    )
    assert response.status_code == 200  # the admin refuses a non-staff login
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password, reason",
    [
        ("12345678901234", "entirely numeric"),
        ("password123", "too common"),
        ("operator-jane-doe", "too similar"),
    ],
)
def test_create_operator_applies_every_password_validator(password, reason):
    """Finding 10: only the length was checked; AUTH_PASSWORD_VALIDATORS were skipped."""
    with pytest.raises(CommandError, match=reason):
        call_command(
            "create_operator",
            "operator-jane-doe",
            "--password",
            password,
            "--email",
            "jane@example.com",
            stdout=StringIO(),
        )
