"""The demo seed makes its accounts the real way (sandbox provider, real sync runs)."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Organization
from accounts.selectors import linked_account_credentials
from issues.models import Issue
from linking.models import LinkToken
from syncs.models import Candidate, Contact, SyncRun

pytestmark = pytest.mark.django_db


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
        issue = Issue.objects.get(linked_account=broken)
        assert issue.error_description == "Invalid API key" and issue.status == "ONGOING"
        assert accounts[("initech-003", account_type)].status == "IDLE"
        incomplete = accounts[("umbrella-004", account_type)]
        assert incomplete.status == "INCOMPLETE" and linked_account_credentials(account=incomplete) == {}
        assert not SyncRun.objects.filter(linked_account=incomplete).exists()
        for origin_id, category, table in (("hooli-005", "ats", Candidate), ("wonka-006", "crm", Contact)):
            account = accounts[(origin_id, account_type)]
            assert (account.category, account.status) == (category, "COMPLETE")
            assert table.objects.filter(linked_account=account).count() == 200

    relink = LinkToken.objects.get(organization=org)
    assert relink.linked_account == accounts[("globex-002", "TEST")] and relink.is_magic_link
    assert "relink page for Globex" in out.getvalue()
