"""Merge's own Python SDK against a live Relink server: only the base URL changes."""

import pytest
from merge import Merge

from tests.merge_sdk import every_page


@pytest.mark.django_db(transaction=True)
def test_merge_sdk_reads_account_details_and_pages_linked_accounts(live_server, owner):
    account, token = owner.linked_account(origin_id="sdk-1")
    for i in range(130):
        owner.linked_account(origin_id=f"sdk-extra-{i}", complete=i % 2 == 0)
    merge = Merge(base_url=f"{live_server.url}/api", api_key=owner.production_key, account_token=token)

    details = merge.hris.account_details.retrieve()
    assert details.id == str(account.id)
    assert details.status == "COMPLETE"
    assert details.integration_slug == "sandbox"

    seen = [a.id for a in every_page(merge.hris.linked_accounts.list, page_size=50)]
    assert len(seen) == 131 and len(set(seen)) == 131
    relink = merge.hris.linked_accounts.list(status="INCOMPLETE")
    assert len(relink.results) == 65
