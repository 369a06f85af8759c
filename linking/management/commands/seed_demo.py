"""Seed a demo for `make run`: an operator login, an organization with keys, and sandbox linked
accounts in every status (and one linked by OAuth consent), made the real way: valid sandbox credentials, real sync runs against
the sandbox provider, and a key revoked at the provider so that a real failed sync puts the
RELINK_NEEDED account where it is. Idempotent: a second run only prints the login again."""

from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts import catalog
from accounts.models import AccountType, LinkedAccountStatus, Organization
from accounts.services import (
    linked_account_create,
    linked_account_mark_complete,
    linked_account_mark_idle,
    membership_add,
    organization_create,
)
from linking.link_tokens import magic_link_create
from syncs.models import SyncTrigger
from syncs.runs import sync_run_account
from syncs.sandbox_controls import sandbox_revoke_key
from syncs.sandbox_provider import serve_in_thread
from syncs.services_oauth import oauth_authorization_url, oauth_exchange_code, oauth_headless_consent

DEMO_ORG = "Demo Co"
DEMO_USER = "demo"
DEMO_PASSWORD = "relink-demo-password"

# (origin id, organization, e-mail, status, category, integration)
PEOPLE = [
    ("acme-001", "Acme Corp", "it@acme.example", LinkedAccountStatus.COMPLETE, "hris", "sandbox"),
    ("globex-002", "Globex", "hr@globex.example", LinkedAccountStatus.RELINK_NEEDED, "hris", "sandbox"),
    ("initech-003", "Initech", "ops@initech.example", LinkedAccountStatus.IDLE, "hris", "sandbox"),
    (
        "umbrella-004",
        "Umbrella",
        "people@umbrella.example",
        LinkedAccountStatus.INCOMPLETE,
        "hris",
        "sandbox",
    ),
    # One of each category beyond HRIS: candidates from the sandbox ATS, contacts from the sandbox CRM.
    ("hooli-005", "Hooli", "talent@hooli.example", LinkedAccountStatus.COMPLETE, "ats", "sandbox_ats"),
    ("wonka-006", "Wonka", "sales@wonka.example", LinkedAccountStatus.COMPLETE, "crm", "sandbox_crm"),
]


@contextmanager
def private_sandbox_provider():
    """A sandbox provider of our own for the seed's syncs, whether or not `make run` has started
    the shared one yet (it starts after the seed). Keys work the same in both."""
    running = serve_in_thread(control_token=settings.SANDBOX_CONTROL_TOKEN)
    previous = settings.SANDBOX_PROVIDER_URL
    settings.SANDBOX_PROVIDER_URL = running.url
    try:
        yield running
    finally:
        settings.SANDBOX_PROVIDER_URL = previous
        running.stop()


class Command(BaseCommand):
    help = "Seed the local demo (idempotent)."

    def handle(self, *args, **options):
        organization = Organization.objects.filter(name=DEMO_ORG).first()
        if organization is None:
            organization, production_key, test_key = organization_create(name=DEMO_ORG)
            relink_url = self._seed_accounts(organization, base_url=settings.PUBLIC_BASE_URL)
            self.stdout.write(f"Demo organization {organization.id}")
            self.stdout.write(f"  production API key: {production_key}")
            self.stdout.write(
                f"  test API key:       {test_key}   (shown once; create more with create_organization)"
            )
            if relink_url:
                self.stdout.write(f"  relink page for Globex (test account): {relink_url}")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        membership_add(user=user, organization=organization)
        self.stdout.write(f"Log in at {settings.PUBLIC_BASE_URL}/ as {DEMO_USER} / {DEMO_PASSWORD}")

    def _seed_accounts(self, organization, *, base_url: str) -> str | None:
        relink_url = None
        with private_sandbox_provider():
            for origin_id, org_name, email, target, category, integration in PEOPLE:
                for account_type in (AccountType.PRODUCTION, AccountType.TEST):
                    account = self._seed_account(
                        organization, origin_id, org_name, email, target, account_type, category, integration
                    )
                    if target == LinkedAccountStatus.RELINK_NEEDED and account_type == AccountType.TEST:
                        relink_url = magic_link_create(account=account, base_url=base_url).magic_link_url
            self._seed_oauth_account(organization)
        return relink_url

    def _seed_oauth_account(self, organization):
        """One test account linked by OAuth consent (the sandbox answers "Allow"): a real code
        exchange with PKCE, then a real sync with its access token. The sandbox signs its tokens,
        so the grant still works on the provider `make run` starts afterwards."""
        credentials = self._consent(integration="sandbox_oauth")
        account, _ = linked_account_create(
            organization=organization,
            category="hris",
            integration="sandbox_oauth",
            end_user_origin_id="wayne-005",
            end_user_organization_name="Wayne Enterprises",
            end_user_email_address="hr@wayne.example",
            account_type=AccountType.TEST,
            credentials=credentials,
        )
        linked_account_mark_complete(account=account, reason="Linked by OAuth consent (demo)")
        self._sync(account, "Initial sync after linking (demo)")
        return account

    def _consent(self, *, integration: str) -> dict:
        """Tokens of a new grant of the sandbox authorization server: consent ("Allow",
        answered by the sandbox) and a real code exchange with PKCE."""
        redirect_uri = f"{settings.PUBLIC_BASE_URL}/link/oauth/callback"
        verifier = "demo-" + "v" * 60
        url = oauth_authorization_url(
            integration=integration, redirect_uri=redirect_uri, state="demo", code_verifier=verifier
        )
        answer = oauth_headless_consent(integration=integration, authorization_url=url)
        return oauth_exchange_code(
            integration=integration, code=answer["code"], code_verifier=verifier, redirect_uri=redirect_uri
        )

    def _seed_account(
        self, organization, origin_id, org_name, email, target, account_type, category, integration
    ):
        # Each account has its own key, so revoking one breaks only that account.
        api_key = f"sk_sandbox_demo_{origin_id}_{account_type.lower()}"
        oauth = catalog.get(integration).auth_type == "OAUTH2"
        credentials = self._consent(integration=integration) if oauth else {"api_key": api_key}
        account, _ = linked_account_create(
            organization=organization,
            category=category,
            integration=integration,
            end_user_origin_id=origin_id,
            end_user_organization_name=org_name,
            end_user_email_address=email,
            account_type=account_type,
            # INCOMPLETE: the end user opened the link page and has not finished.
            credentials=None if target == LinkedAccountStatus.INCOMPLETE else credentials,
        )
        if target == LinkedAccountStatus.INCOMPLETE:
            return account
        linked_account_mark_complete(account=account, reason="Linked by the end user (demo)")
        self._sync(account, "Initial sync after linking (demo)")
        if target == LinkedAccountStatus.COMPLETE:
            self._sync(account, "Resync (demo)")
        elif target == LinkedAccountStatus.RELINK_NEEDED:
            # The provider revokes the key; the next real sync gets 401 and the syncs rule marks
            # the account RELINK_NEEDED with an ONGOING "Invalid API key" issue.
            sandbox_revoke_key(api_key=api_key, tenant=str(account.organization_id))
            self._sync(account, "Sync after the key was revoked (demo)")
        elif target == LinkedAccountStatus.IDLE:
            linked_account_mark_idle(
                account=account, reason="No API request for this account in 14 days (demo)"
            )
        return account

    def _sync(self, account, reason: str) -> None:
        run = sync_run_account(account_id=str(account.pk), trigger=SyncTrigger.FORCED, reason=reason)
        if run is not None:
            self.stdout.write(f"  synced {account.end_user_origin_id} ({account.account_type}): {run.status}")
