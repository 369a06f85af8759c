"""/metrics is closed unless the scraper shows the token, and off without one."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import LinkedAccountStatus

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def scraper(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ACCOUNT_COUNTS_SECONDS = 0
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def samples(client: Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content[:300]
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_anonymous_and_wrong_token_scrapes_are_refused(settings, scraper):
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert b"relink_" not in anonymous.content
    wrong = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").get("/metrics")
    assert wrong.status_code == 401
    basic = Client(HTTP_AUTHORIZATION=f"Basic {TOKEN}").get("/metrics")
    assert basic.status_code == 401


def test_metrics_are_off_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    assert Client(HTTP_AUTHORIZATION="Bearer ").get("/metrics").status_code == 404
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
def test_scrape_reports_accounts_by_status_and_environment(scraper, owner):
    before = samples(scraper)
    owner.linked_account(origin_id="m-1")  # PRODUCTION, COMPLETE
    owner.linked_account(origin_id="m-2", account_type="TEST", complete=False)
    after = samples(scraper)

    def count(s, status, env):
        return s[("relink_linked_accounts", (("environment", env), ("status", status)))]

    assert (
        count(after, LinkedAccountStatus.COMPLETE, "PRODUCTION")
        == count(before, "COMPLETE", "PRODUCTION") + 1
    )
    assert count(after, "INCOMPLETE", "TEST") == count(before, "INCOMPLETE", "TEST") + 1
    assert count(after, "RELINK_NEEDED", "TEST") == 0
    queues = {dict(labels)["queue"] for name, labels in after if name == "relink_celery_queue_depth"}
    assert queues == {"celery", "syncs", "webhooks"}
    assert after[("relink_metrics_collector_errors", (("collector", "celery_queues"),))] == 0


@pytest.mark.django_db
def test_a_failing_source_leaves_the_rest_of_the_scrape(scraper, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    s = samples(scraper)
    assert s[("relink_metrics_collector_errors", (("collector", "celery_queues"),))] == 1
    assert not any(name == "relink_celery_queue_depth" for name, _ in s)
    assert any(name == "relink_linked_accounts" for name, _ in s)
