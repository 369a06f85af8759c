"""Merge's own Python SDK parses our /issues responses: only the base URL changes."""

import pytest
from merge import Merge

from issues import services
from tests.merge_sdk import every_page


@pytest.mark.django_db(transaction=True)
def test_merge_sdk_lists_and_retrieves_issues(live_server, owner):
    account, token = owner.linked_account(origin_id="sdk-issues")
    issue = services.issue_record_failure(
        account=account, error_description="Invalid API key", detail="401 from the provider"
    )
    for i in range(7):
        other, _ = owner.linked_account(origin_id=f"sdk-other-{i}")
        services.issue_record_failure(account=other, error_description="Third-party offline", detail="503")
    merge = Merge(base_url=f"{live_server.url}/api", api_key=owner.production_key, account_token=token)

    seen = [i.id for i in every_page(merge.hris.issues.list, page_size=3)]
    assert len(seen) == 8 and len(set(seen)) == 8

    mine = merge.hris.issues.list(linked_account_id=str(account.id))
    assert [i.id for i in mine.results] == [str(issue.id)]
    got = merge.hris.issues.retrieve(str(issue.id))
    assert got.id == str(issue.id)
    assert got.status == "ONGOING"
    assert got.error_description == "Invalid API key"
    assert got.end_user["end_user_origin_id"] == "sdk-issues"
    assert got.first_incident_time is not None and got.first_incident_time.tzinfo is not None
    assert got.error_details == ["401 from the provider"]
    assert got.is_muted is False
    ongoing = merge.hris.issues.list(status="ONGOING", account_token=token)
    assert [i.id for i in ongoing.results] == [str(issue.id)]
