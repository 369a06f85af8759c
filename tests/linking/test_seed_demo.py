"""The demo seed makes its accounts the real way (sandbox provider, real sync runs), spreads
their history over the two previous months, records webhook deliveries, and runs twice safely."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.billing import billing_usage
from accounts.billing_chart import status_counts_by_day
from accounts.models import LinkedAccountStatusChange, Organization
from accounts.selectors import linked_account_credentials
from issues.models import Issue, WebhookAttempt, WebhookDelivery
from linking.models import LinkToken, RelinkEmail
from syncs.models import Candidate, Contact, SyncRun

pytestmark = pytest.mark.django_db


def _last_month() -> date:
    return (timezone.now().date().replace(day=1) - timedelta(days=1)).replace(day=1)


def test_seed_demo_accounts_are_real():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    org = Organization.objects.get(name="Demo Co")
    accounts = {(a.end_user_origin_id, a.account_type): a for a in org.linked_accounts.all()}
    assert len(accounts) == 13
    oauth = accounts[("wayne-005", "TEST")]
    assert oauth.integration == "sandbox_oauth" and oauth.status == "COMPLETE"
    assert [r.status for r in SyncRun.objects.filter(linked_account=oauth)] == ["DONE"]

    for account_type in ("PRODUCTION", "TEST"):
        complete = accounts[("acme-001", account_type)]
        assert complete.status == "COMPLETE"
        assert list(SyncRun.objects.filter(linked_account=complete).values_list("status", flat=True)) == [
            "DONE",
            "DONE",
        ]
        broken = accounts[("globex-002", account_type)]
        assert broken.status == "RELINK_NEEDED"
        runs = list(SyncRun.objects.filter(linked_account=broken).order_by("started_at"))
        assert [r.status for r in runs] == ["DONE", "FAILED"]
        issue = Issue.objects.get(linked_account=broken, status="ONGOING")
        assert issue.error_description == "Invalid API key"
        earlier = Issue.objects.get(linked_account=broken, status="RESOLVED")
        assert earlier.error_description == "Missing permissions"
        idle = accounts[("initech-003", account_type)]
        assert idle.status == "IDLE"
        assert LinkedAccountStatusChange.objects.get(linked_account=idle, to_status="IDLE").reason
        incomplete = accounts[("umbrella-004", account_type)]
        assert incomplete.status == "INCOMPLETE" and linked_account_credentials(account=incomplete) == {}
        assert not SyncRun.objects.filter(linked_account=incomplete).exists()
        for origin_id, category, table in (("hooli-005", "ats", Candidate), ("wonka-006", "crm", Contact)):
            account = accounts[(origin_id, account_type)]
            assert (account.category, account.status) == (category, "COMPLETE")
            assert table.objects.filter(linked_account=account).count() == 200

    relink = LinkToken.objects.get(organization=org, linked_account__account_type="TEST")
    assert relink.linked_account == accounts[("globex-002", "TEST")] and relink.is_magic_link
    assert "relink page for Globex" in out.getvalue()
    mailed = RelinkEmail.objects.get(organization=org)
    assert mailed.linked_account == accounts[("globex-002", "PRODUCTION")]


def test_seed_demo_history_fills_last_months_bill_and_the_chart():
    call_command("seed_demo", stdout=StringIO())
    org = Organization.objects.get(name="Demo Co")
    oldest = LinkedAccountStatusChange.objects.filter(organization=org).order_by("at").first().at
    assert oldest.date() < _last_month()  # history starts before last month

    usage = billing_usage(organization=org, month=_last_month())
    assert usage["billable_account_days"] > 0
    assert usage["excluded_account_days"]["relink_needed"] >= 5  # Globex, last month
    assert usage["excluded_account_days"]["test"] > 0

    days = status_counts_by_day(organization=org, account_type="PRODUCTION", days=30)
    assert len({(d["COMPLETE"], d["IDLE"], d["RELINK_NEEDED"], d["INCOMPLETE"]) for d in days}) > 1


def test_seed_demo_records_a_delivered_a_retried_and_a_failed_webhook():
    call_command("seed_demo", stdout=StringIO())
    org = Organization.objects.get(name="Demo Co")
    endpoint = org.webhook_endpoints.get()
    assert not endpoint.enabled  # its receiver lived only during the seed
    deliveries = {d.event: d for d in WebhookDelivery.objects.filter(endpoint=endpoint)}
    assert deliveries["LinkedAccount.sync_completed"].status == "SUCCEEDED"
    retried = deliveries["Issue.new"]
    assert retried.status == "SUCCEEDED"
    assert list(
        WebhookAttempt.objects.filter(delivery=retried)
        .order_by("number")
        .values_list("status_code", flat=True)
    ) == [503, 200]
    failed = deliveries["LinkedAccount.status_changed"]
    assert failed.status == "FAILED" and failed.last_status_code == 410


def test_seed_demo_twice_changes_nothing():
    def counts():
        models = [Organization, LinkedAccountStatusChange, SyncRun, WebhookDelivery, Issue, RelinkEmail]
        return {model.__name__: model.objects.count() for model in models}

    call_command("seed_demo", stdout=StringIO())
    first = counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert counts() == first
    assert "Log in at" in out.getvalue() and "API key" not in out.getvalue()
