"""Under /api/ every answer is JSON, Django's own 404/405 pages included, in DEBUG too (issue 18,
item 4): Merge's SDKs parse the body of every answer."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/api/hris/v1/employees/not-a-uuid", 404),
        ("get", "/api/hris/v1/no-such-endpoint", 404),
        ("get", "/api/nosuchcategory/v1/linked-accounts", 404),
        ("get", "/api/billing/v1/nothing-here", 404),
        ("delete", "/api/hris/v1/account-details", 405),
        ("put", "/api/hris/v1/link-token", 405),
    ],
)
def test_api_errors_are_json_with_a_detail(owner, debug, method, path, status):
    _, token = owner.linked_account()
    with override_settings(DEBUG=debug):
        response = getattr(owner.client(account_token=token), method)(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]
    if status == 405:
        assert response["Allow"]


def test_pages_outside_the_api_keep_html_404s(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
