import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.services import membership_add

PASSWORD = "operator-password-1"


def operator_client(*, username: str, organizations) -> Client:
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    for org in organizations:
        membership_add(user=user, organization=org)
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def operator(owner) -> Client:
    """A logged-in operator of the owner's organization."""
    return operator_client(username="olivia", organizations=[owner.organization])


@pytest.fixture
def outsider_operator(outsider) -> Client:
    """A logged-in operator of the outsider organization only."""
    return operator_client(username="oscar", organizations=[outsider.organization])
