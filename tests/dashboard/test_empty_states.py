"""A new organization's pages say what would fill them, instead of showing empty tables."""

import pytest

from issues.webhooks.endpoints import webhook_endpoint_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path, says",
    [
        ("/", "An account appears when an end user finishes the link page"),
        ("/issues", "An issue opens when a sync fails"),
        ("/webhooks", "Relink then POSTs signed events to it"),
        ("/billing", "counts as a billable day"),
    ],
)
def test_an_empty_page_says_what_would_fill_it(operator, path, says):
    response = operator.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="muted empty"' in body and says in body


def test_an_endpoint_without_deliveries_says_what_would_fill_it(operator, owner):
    endpoint, _ = webhook_endpoint_create(
        organization=owner.organization, url="https://hooks.example.com/relink"
    )
    body = operator.get(f"/webhooks/{endpoint.pk}").content.decode()
    assert "No deliveries yet: each event an endpoint subscribes to is sent" in body


def test_a_page_with_data_shows_no_empty_state(operator, owner):
    owner.linked_account(origin_id="filled")
    assert 'class="muted empty"' not in operator.get("/").content.decode()
