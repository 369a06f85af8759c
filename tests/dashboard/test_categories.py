"""The dashboard treats every category alike: the account page counts the category's synced
records, and the integration filter offers integrations by category."""

import pytest

from syncs import runs
from tests.syncs.categories import link_sandbox_account

pytestmark = pytest.mark.django_db


def test_the_account_page_counts_the_categorys_synced_records(owner, operator, sandbox_provider):
    account, _ = link_sandbox_account(owner, category="crm", origin_id="dash-crm")
    runs.sync_run_account(account_id=str(account.pk), trigger="forced")
    operator.get("/")
    panel = operator.get(f"/accounts/{account.id}/sync-runs", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-swap-oob="innerHTML:#data-counts">200 contacts<' in panel
    listing = operator.get("/accounts", {"category": "crm", "environment": "all"}).content.decode()
    assert '<optgroup label="CRM">' in listing and '<optgroup label="HRIS">' not in listing
    assert 'value="hubspot"' in listing and 'value="bamboohr"' not in listing
