"""Linking an account of each category's sandbox the way an API client does (a test key: link
token, the sandbox public-token endpoint, the account-token exchange), so the tests of the ATS
and CRM data do not depend on how each sandbox authorizes."""

from accounts.models import LinkedAccount
from tests.linking.helpers import create_link_token, exchange

SANDBOX = {"hris": "sandbox", "ats": "sandbox_ats", "crm": "sandbox_crm"}


def sandbox_credentials(integration: str, origin_id: str) -> dict:
    """What the end user would submit: a sandbox API key; for the OAuth sandbox CRM nothing
    (the sandbox public-token endpoint runs the consent round trip, answered "Allow")."""
    if integration == "sandbox_crm":
        return {}
    return {"api_key": f"sk_sandbox_{origin_id}"}


def link_sandbox_account(tenant, *, category: str, origin_id: str) -> tuple[LinkedAccount, str]:
    """A COMPLETE test account of the category's sandbox: (account, account token)."""
    integration = SANDBOX[category]
    link = create_link_token(tenant, origin_id=origin_id, category=category, integration=integration)
    finished = tenant.client(test=True).post(
        "/api/sandbox/v1/public-token",
        {
            "link_token": link["link_token"],
            "integration": integration,
            "credentials": sandbox_credentials(integration, origin_id),
        },
        format="json",
    )
    assert finished.status_code == 201, finished.content
    body = exchange(tenant, finished.json()["public_token"], category=category).json()
    return LinkedAccount.objects.get(pk=body["id"]), body["account_token"]
