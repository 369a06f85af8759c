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
