"""Concurrent failures for one account open one issue (PostgreSQL: real row locks)."""

import pytest
from django.db import connection

from issues import services
from issues.models import Issue, WebhookDelivery
from issues.webhooks.endpoints import webhook_endpoint_create
from tests.threads import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_failures_open_one_issue_and_one_issue_new(owner):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    webhook_endpoint_create(
        organization=owner.organization, url="https://a.example.com", events=["Issue.new"]
    )
    account, _ = owner.linked_account()
    results = race(
        [
            lambda i=i: services.issue_record_failure(
                account=account, error_description="Rate limited", detail=f"429 #{i}"
            )
            for i in range(6)
        ]
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    issue = Issue.objects.get()
    assert issue.occurrences == 6 and len(issue.error_details) == 6
    assert WebhookDelivery.objects.filter(event="Issue.new").count() == 1
