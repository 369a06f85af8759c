"""GET /issues and /issues/{id}: the Issue object, every filter, paging, tenant isolation."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AccountType
from accounts.timefmt import api_datetime
from issues import services
from issues.models import Issue

pytestmark = pytest.mark.django_db

URL = "/api/hris/v1/issues"


def record(account, description="Invalid API key", detail="401 Unauthorized"):
    return services.issue_record_failure(account=account, error_description=description, detail=detail)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_issue_object_has_the_contract_fields(owner):
    account, _ = owner.linked_account(origin_id="acme")
    issue = record(account)
    response = owner.client().get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    item = body["results"][0]
    assert item == {
        "id": str(issue.id),
        "status": "ONGOING",
        "error_description": "Invalid API key",
        "end_user": {
            "id": str(account.id),
            "end_user_origin_id": "acme",
            "end_user_organization_name": "acme Inc",
            "end_user_email_address": "acme@example.com",
        },
        "first_incident_time": api_datetime(issue.first_incident_time),
        "last_incident_time": api_datetime(issue.last_incident_time),
        "is_muted": False,
        "error_details": ["401 Unauthorized"],
    }
    assert item["first_incident_time"].endswith("Z")  # UTC, one format in every answer
    detail = owner.client().get(f"{URL}/{issue.id}")
    assert detail.status_code == 200 and detail.json() == item


def test_other_organizations_issues_are_404_and_never_listed(owner, outsider):
    theirs, _ = outsider.linked_account(origin_id="theirs")
    their_issue = record(theirs)
    mine, _ = owner.linked_account(origin_id="mine")
    my_issue = record(mine)
    assert ids(owner.client().get(URL)) == [str(my_issue.id)]
    response = owner.client().get(f"{URL}/{their_issue.id}")
    assert response.status_code == 404
    assert "detail" in response.json()
    assert owner.client().get(f"{URL}/not-a-uuid").status_code == 404
    assert ids(owner.client().get(URL, {"linked_account_id": str(theirs.id)})) == []


def test_environments_are_separate(owner):
    prod, _ = owner.linked_account(origin_id="p")
    test, _ = owner.linked_account(origin_id="t", account_type=AccountType.TEST)
    prod_issue, test_issue = record(prod), record(test)
    assert ids(owner.client().get(URL)) == [str(prod_issue.id)]
    assert ids(owner.client(test=True).get(URL)) == [str(test_issue.id)]
    assert owner.client(test=True).get(f"{URL}/{prod_issue.id}").status_code == 404


def test_needs_an_api_key_but_ignores_an_account_token(owner):
    account, token = owner.linked_account()
    record(account)
    from rest_framework.test import APIClient

    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response.json()["header"] == "Authorization"
    assert len(ids(owner.client(account_token="garbage").get(URL))) == 1


def test_filters(owner):
    a, token_a = owner.linked_account(origin_id="a")
    b, _ = owner.linked_account(origin_id="b")
    base = timezone.now() - timedelta(days=10)
    with time_machine.travel(base, tick=False):
        old = record(a, "Rate limited", "429")
    with time_machine.travel(base + timedelta(days=5), tick=False):
        middle = record(b, "Third-party offline", "500")
    with time_machine.travel(base + timedelta(days=9), tick=False):
        new = record(a, "Invalid API key", "401")
        record(b, "Third-party offline", "500 again")  # middle's last incident moves to day 9
    services.issues_resolve_for_account(account=a, reason="ok", error_descriptions=["Rate limited"])
    muted = record(b, "Missing permissions", "403")
    services.issue_mute(issue=muted)
    client = owner.client()

    assert set(ids(client.get(URL))) == {str(old.id), str(middle.id), str(new.id)}
    assert str(muted.id) in ids(client.get(URL, {"include_muted": "true"}))
    assert ids(client.get(URL, {"status": "RESOLVED"})) == [str(old.id)]
    assert set(ids(client.get(URL, {"status": "ONGOING"}))) == {str(middle.id), str(new.id)}
    assert set(ids(client.get(URL, {"linked_account_id": str(a.id)}))) == {str(old.id), str(new.id)}
    assert set(ids(client.get(URL, {"account_token": token_a}))) == {str(old.id), str(new.id)}
    assert ids(client.get(URL, {"account_token": "nope"})) == []
    assert set(ids(client.get(URL, {"end_user_organization_name": "b Inc"}))) == {str(middle.id)}
    assert len(ids(client.get(URL, {"integration_name": "sandbox"}))) == 3
    assert ids(client.get(URL, {"integration_name": "Nonexistent"})) == []
    day = lambda n: (base + timedelta(days=n)).isoformat()  # noqa: E731
    assert set(ids(client.get(URL, {"first_incident_time_after": day(1)}))) == {str(middle.id), str(new.id)}
    assert ids(client.get(URL, {"first_incident_time_before": day(1)})) == [str(old.id)]
    assert set(ids(client.get(URL, {"last_incident_time_after": day(6)}))) == {str(middle.id), str(new.id)}
    assert ids(client.get(URL, {"last_incident_time_before": day(6)})) == [str(old.id)]
    # start_date/end_date: Merge's window on the most recent incident (day 9 for both).
    assert set(ids(client.get(URL, {"start_date": day(6), "end_date": day(10)}))) == {
        str(middle.id),
        str(new.id),
    }
    assert ids(client.get(URL, {"start_date": day(2), "end_date": day(4)})) == []
    assert ids(client.get(URL, {"end_date": (base + timedelta(days=1)).date().isoformat()})) == [str(old.id)]
    assert set(ids(client.get(URL, {"start_date": (base + timedelta(days=8)).date().isoformat()}))) == {
        str(middle.id),
        str(new.id),
    }


@pytest.mark.parametrize(
    "params,field",
    [
        ({"status": "BROKEN"}, "status"),
        ({"linked_account_id": "nope"}, "linked_account_id"),
        ({"include_muted": "maybe"}, "include_muted"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"first_incident_time_after": "2024-13-45"}, "first_incident_time_after"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
def test_bad_filters_are_400_naming_the_field(owner, params, field):
    response = owner.client().get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_cursor_pages_through_everything_both_ways(owner):
    created = []
    for i in range(23):
        account, _ = owner.linked_account(origin_id=f"o{i}")
        created.append(str(record(account).id))
    client = owner.client()
    seen, cursor, pages = [], None, []
    while True:
        response = client.get(URL, {"page_size": 5, **({"cursor": cursor} if cursor else {})})
        body = response.json()
        pages.append(body)
        seen += [i["id"] for i in body["results"]]
        cursor = body["next"]
        if not cursor:
            break
    assert seen == list(reversed(created))
    assert len(pages) == 5 and pages[0]["previous"] is None
    back = client.get(URL, {"page_size": 5, "cursor": pages[2]["previous"]}).json()
    assert [i["id"] for i in back["results"]] == [i["id"] for i in pages[1]["results"]]
    assert Issue.objects.count() == 23
