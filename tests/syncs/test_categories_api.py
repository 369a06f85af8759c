"""ATS candidates and CRM contacts as an API client sees them: synced from the sandbox ATS/CRM,
served in Merge's field names, paged, filtered and isolated like /employees."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.renderers import JSONRenderer

from issues.webhooks.endpoints import webhook_endpoint_create
from syncs import runs
from syncs.models import Candidate, Contact, SyncRun
from syncs.serializers import CandidateSerializer, ContactSerializer, candidates_as_api, contacts_as_api
from tests.linking.helpers import deliveries

from .categories import link_sandbox_account

pytestmark = pytest.mark.django_db

CASES = {
    "ats": ("sandbox_ats", "candidates", "ats.Candidate", "cand_0007"),
    "crm": ("sandbox_crm", "contacts", "crm.Contact", "con_0007"),
}


def _sync(account, trigger="schedule"):
    return runs.sync_run_account(account_id=str(account.pk), trigger=trigger)


def _linked(owner, category, origin_id="cat-1"):
    return link_sandbox_account(owner, category=category, origin_id=f"{origin_id}-{category}")


@pytest.mark.parametrize("category", ["ats", "crm"])
def test_list_pages_filters_and_retrieves_in_merge_field_names(owner, sandbox_provider, category):
    _, path, model_id, remote_id = CASES[category]
    account, token = _linked(owner, category)
    run = _sync(account)
    assert run.status == "DONE" and run.records_created == 200
    assert run.model_counts == {model_id: {"fetched": 200, "created": 200, "updated": 0, "deleted": 0}}
    client = owner.client(test=True, account_token=token)

    seen, cursor = [], None
    while True:
        response = client.get(
            f"/api/{category}/v1/{path}", {"page_size": 70, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.content
        seen += response.json()["results"]
        cursor = response.json()["next"]
        if not cursor:
            break
    assert len(seen) == 200 and len({r["id"] for r in seen}) == 200

    [seventh] = client.get(f"/api/{category}/v1/{path}", {"remote_id": remote_id}).json()["results"]
    assert seventh["first_name"] == "Ken" and seventh["remote_was_deleted"] is False
    if category == "ats":
        assert seventh["company"] == "Globex" and seventh["title"] == "Recruiter"
        assert seventh["email_addresses"] == [
            {"value": "ken.lovelace.7@mail.example", "email_address_type": "PERSONAL"},
            {"value": "ken7@work.example", "email_address_type": "WORK"},
        ]
        assert seventh["phone_numbers"] == [{"value": "+1-555-0007", "phone_number_type": "MOBILE"}]
        assert seventh["last_interaction_at"] == "2025-03-08T15:30:00Z"
    else:
        assert seventh["email_addresses"] == [
            {"email_address": "ken.lovelace.7@customer.example", "email_address_type": "work"}
        ]
        assert seventh["phone_numbers"] == [
            {"phone_number": "+1-555-1007", "phone_number_type": "work"},
            {"phone_number": "+1-555-5007", "phone_number_type": "mobile"},
        ]
        assert seventh["addresses"][0]["city"] == "Toronto" and seventh["account"] is None
        assert seventh["last_activity_at"] == "2025-04-08T11:00:00Z"
    assert client.get(f"/api/{category}/v1/{path}/{seventh['id']}").json() == seventh

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert client.get(f"/api/{category}/v1/{path}", {"modified_after": later}).json()["results"] == []

    statuses = client.get(f"/api/{category}/v1/sync-status").json()["results"]
    assert [s["model_id"] for s in statuses] == [model_id] and statuses[0]["status"] == "DONE"


@pytest.mark.parametrize("category", ["ats", "crm"])
def test_records_gone_upstream_are_flagged_and_hidden_by_default(owner, sandbox_provider, category):
    _, path, _, _ = CASES[category]
    account, token = _linked(owner, category, "gone")
    table = Candidate if category == "ats" else Contact
    stale = table.objects.create(linked_account=account, remote_id="vanished", modified_at=datetime.now(UTC))
    run = _sync(account)
    assert run.records_deleted == 1
    client = owner.client(test=True, account_token=token)
    assert client.get(f"/api/{category}/v1/{path}", {"remote_id": "vanished"}).json()["results"] == []
    assert client.get(f"/api/{category}/v1/{path}/{stale.id}").status_code == 404
    shown = client.get(
        f"/api/{category}/v1/{path}", {"remote_id": "vanished", "include_deleted_data": "true"}
    )
    assert shown.json()["results"][0]["remote_was_deleted"] is True


def test_a_token_of_another_category_or_an_unknown_category_is_404(owner, sandbox_provider):
    hris, hris_token = link_sandbox_account(owner, category="hris", origin_id="cat-hris")
    ats, ats_token = _linked(owner, "ats", "cross")
    crm, crm_token = _linked(owner, "crm", "cross")
    for account in (hris, ats, crm):
        _sync(account)
    for token, path in [
        (hris_token, "/api/ats/v1/candidates"),
        (hris_token, "/api/crm/v1/contacts"),
        (ats_token, "/api/crm/v1/contacts"),
        (ats_token, "/api/hris/v1/employees"),
        (crm_token, "/api/ats/v1/candidates"),
        # The right token under another category's URL.
        (ats_token, "/api/crm/v1/candidates"),
        (crm_token, "/api/accounting/v1/contacts"),
        (ats_token, "/api/recruiting/v1/candidates"),
    ]:
        response = owner.client(test=True, account_token=token).get(path)
        assert response.status_code == 404, (path, response.content)
        assert response.json() == {"detail": "Not found."}
    candidate = Candidate.objects.filter(linked_account=ats).first()
    assert (
        owner.client(test=True, account_token=crm_token)
        .get(f"/api/ats/v1/candidates/{candidate.id}")
        .status_code
        == 404
    )


@pytest.mark.parametrize("page_size", ["0", "abc", "101"])
def test_bad_page_sizes_are_400_naming_the_field(owner, sandbox_provider, page_size):
    _, token = _linked(owner, "ats", "pages")
    response = owner.client(test=True, account_token=token).get(
        "/api/ats/v1/candidates", {"page_size": page_size}
    )
    assert response.status_code == 400 and "page_size" in response.json()


def test_another_organization_never_sees_the_records(owner, outsider, sandbox_provider):
    account, token = _linked(owner, "crm", "iso")
    _sync(account)
    contact = Contact.objects.filter(linked_account=account).first()
    response = outsider.client(test=True, account_token=token).get("/api/crm/v1/contacts")
    assert response.status_code == 401 and response.json()["header"] == "X-Account-Token"
    _, their_token = link_sandbox_account(outsider, category="crm", origin_id="theirs")
    assert (
        outsider.client(test=True, account_token=their_token)
        .get(f"/api/crm/v1/contacts/{contact.id}")
        .status_code
        == 404
    )
    # A production key sees no test account either.
    assert owner.client(account_token=token).get("/api/crm/v1/contacts").status_code == 401


def test_sync_completed_names_each_model_of_the_category_with_its_counts(owner, sandbox_provider):
    webhook_endpoint_create(organization=owner.organization, url="https://hooks.example.com/relink")
    account, _ = _linked(owner, "ats", "hook")
    _sync(account)
    [hook] = deliveries(owner.organization, "LinkedAccount.sync_completed")
    assert hook["data"]["models"] == [
        {
            "model_name": "Candidate",
            "model_id": "ats.Candidate",
            "records_created": 200,
            "records_updated": 0,
            "records_deleted": 0,
        }
    ]
    assert hook["linked_account"]["category"] == "ats"


def test_unchanged_records_are_not_written_again(owner, sandbox_provider):
    account, _ = _linked(owner, "crm", "again")
    _sync(account)
    before = dict(Contact.objects.filter(linked_account=account).values_list("remote_id", "modified_at"))
    run = _sync(account)
    assert (run.records_created, run.records_updated, run.records_deleted) == (0, 0, 0)
    after = dict(Contact.objects.filter(linked_account=account).values_list("remote_id", "modified_at"))
    assert after == before and SyncRun.objects.filter(linked_account=account).count() == 2


def test_writers_match_their_serializers_field_for_field(owner):
    """candidates_as_api / contacts_as_api are their serializers written out for speed."""
    when = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    ats, _ = owner.linked_account(origin_id="shape-ats", category="ats", integration="sandbox_ats")
    crm, _ = owner.linked_account(origin_id="shape-crm", category="crm", integration="sandbox_crm")
    Candidate.objects.create(
        linked_account=ats,
        remote_id="full",
        first_name="Ada",
        company="Initech",
        is_private=False,
        last_interaction_at=when,
        locations=["Lisbon", None],
        email_addresses=[{"value": "a@example.com", "email_address_type": "WORK"}],
        phone_numbers=[{"value": "+1", "phone_number_type": "HOME"}],
        urls=[{"value": "https://a.example", "url_type": "BLOG"}],
        tags=["x"],
        modified_at=when,
    )
    Candidate.objects.create(
        linked_account=ats, remote_id="sparse", modified_at=when, remote_was_deleted=True
    )
    Contact.objects.create(
        linked_account=crm,
        remote_id="full",
        first_name="Ada",
        addresses=[
            {
                "street_1": "1 Main",
                "street_2": None,
                "city": "Austin",
                "state": "TX",
                "postal_code": "1",
                "country": "US",
                "address_type": None,
            }
        ],
        email_addresses=[{"email_address": "a@example.com", "email_address_type": "work"}],
        phone_numbers=[{"phone_number": "+1", "phone_number_type": "mobile"}],
        last_activity_at=when,
        modified_at=when,
    )
    Contact.objects.create(linked_account=crm, remote_id="sparse", modified_at=when)
    for table, serializer, write in (
        (Candidate, CandidateSerializer, candidates_as_api),
        (Contact, ContactSerializer, contacts_as_api),
    ):
        rows = list(table.objects.order_by("-id"))
        expected = json.loads(JSONRenderer().render(serializer(rows, many=True).data))
        written = json.loads(JSONRenderer().render(write(rows)))
        assert written == expected
        assert [list(item) for item in written] == [list(item) for item in expected]
