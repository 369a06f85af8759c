"""The readers the integrations share (syncs/integrations/values.py), and the numbered paging of
Gusto and Deel through it (respx at the providers' HTTP boundary)."""

import time
from datetime import UTC, datetime

import httpx
import pytest
import respx

from syncs.integrations.base import ErrorClass, ProviderError, RecordError
from syncs.integrations.values import pages_until_short, parse_day, text_or_none
from syncs.models import Employee
from syncs.runs import sync_run_account


def test_text_or_none_trims_and_makes_blank_null():
    assert text_or_none("  Ada ") == "Ada"
    assert text_or_none(42) == "42"
    assert text_or_none("   ") is None and text_or_none("") is None and text_or_none(None) is None


def test_parse_day_is_midnight_utc_and_refuses_what_is_not_a_date():
    assert parse_day("2021-03-01") == datetime(2021, 3, 1, tzinfo=UTC)
    assert parse_day("2021-03-01T17:45:00") == datetime(2021, 3, 1, tzinfo=UTC)
    assert parse_day("") is None and parse_day(None) is None
    with pytest.raises(RecordError):
        parse_day("03/01/2021")


def test_pages_until_short_stops_after_the_first_short_page():
    asked = []

    def fetch(number):
        asked.append(number)
        return [number] * (3 if number < 2 else 1)

    assert list(pages_until_short(fetch, size=3, max_pages=10, loop_message="loop")) == [
        [0, 0, 0],
        [1, 1, 1],
        [2],
    ]
    assert asked == [0, 1, 2]


def test_pages_until_short_calls_endless_full_pages_a_paging_loop():
    pages = pages_until_short(lambda number: [1, 2], size=2, max_pages=3, loop_message="a paging loop")
    assert len([next(pages) for _ in range(3)]) == 3
    with pytest.raises(ProviderError) as exc:
        next(pages)
    assert exc.value.error_class == ErrorClass.BAD_RESPONSE and exc.value.message == "a paging loop"


GUSTO = "https://api.gusto.com"
COMPANY = "c4f1d2e3-0a9b-4c8d-9e7f-6a5b4c3d2e1f"


def _tokens() -> dict:
    return {"access_token": "at", "refresh_token": "rt", "expires_at": time.time() + 3600, "scope": ""}


@pytest.fixture
def oauth_apps(settings):
    settings.GUSTO_CLIENT_ID, settings.GUSTO_CLIENT_SECRET = "gusto-client", "gusto-secret"
    settings.DEEL_CLIENT_ID, settings.DEEL_CLIENT_SECRET = "deel-client", "deel-secret"


@pytest.mark.django_db
@respx.mock
def test_gusto_reads_pages_from_one_until_a_short_page(owner, oauth_apps):
    account, _ = owner.linked_account(origin_id="g-pages", integration="gusto", credentials=_tokens())
    respx.get(f"{GUSTO}/v1/token_info").respond(200, json={"resource": {"type": "Company", "uuid": COMPANY}})
    employee = {"first_name": "E", "last_name": "L", "jobs": [], "terminations": []}
    full = [{**employee, "uuid": f"e-{n}"} for n in range(100)]
    route = respx.get(f"{GUSTO}/v1/companies/{COMPANY}/employees").mock(
        side_effect=[
            httpx.Response(200, json=full),
            httpx.Response(200, json=[{**employee, "uuid": "last"}]),
        ]
    )
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    assert [call.request.url.params["page"] for call in route.calls] == ["1", "2"]
    assert {call.request.url.params["per"] for call in route.calls} == {"100"}
    assert Employee.objects.filter(linked_account=account).count() == 101


@pytest.mark.django_db
@respx.mock
def test_deel_reads_offsets_until_a_short_page(owner, oauth_apps):
    account, _ = owner.linked_account(
        origin_id="d-pages", integration="deel", credentials={**_tokens(), "scope": "people:read"}
    )
    full = [{"id": f"p-{n}", "first_name": "P", "last_name": "D"} for n in range(100)]
    route = respx.get("https://api.letsdeel.com/rest/v2/people").mock(
        side_effect=[
            httpx.Response(200, json={"data": full}),
            httpx.Response(200, json={"data": []}),
        ]
    )
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    assert [(c.request.url.params["offset"], c.request.url.params["limit"]) for c in route.calls] == [
        ("0", "100"),
        ("100", "100"),
    ]
    assert Employee.objects.filter(linked_account=account).count() == 100
