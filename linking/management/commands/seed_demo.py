"""Seed a demo for `make run`: an operator login, an organization with keys, and sandbox linked
accounts in every status (and one linked by OAuth consent), made the real way: valid sandbox credentials, real sync runs against
the sandbox provider, and a key revoked at the provider so that a real failed sync puts the
RELINK_NEEDED account where it is.

So that every page has something to show, the history is spread over the two previous months:
each status change (and the sync runs and issues that go with it) is made now, by the real
services, and then moved back to the day the story puts it on. Last month's bill then has
billable days and Relink Needed days, and the 30-day chart has a shape. A webhook endpoint gets
deliveries (one delivered, one retried, one failed: linking/management/demo_webhooks.py).

Idempotent: what exists is left alone (an account by its origin id and environment, the webhook
endpoint by its description); a second run adds only what is missing and prints the login."""

from contextlib import contextmanager
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import catalog
from accounts.models import (
    AccountType,
    LinkedAccount,
    LinkedAccountStatus,
    LinkedAccountStatusChange,
    Organization,
)
from accounts.services import (
    linked_account_create,
    linked_account_mark_complete,
    linked_account_mark_idle,
    linked_account_mark_relink_needed,
    membership_add,
    organization_create,
)
from issues.models import Issue
from issues.services import issue_record_failure, issues_resolve_for_account
from linking.link_tokens import magic_link_create
from linking.management.demo_webhooks import demo_webhooks_seed
from linking.relink_emails import relink_email_send
from syncs.models import SyncRun, SyncTrigger
from syncs.runs import sync_run_account
from syncs.sandbox_controls import sandbox_revoke_key
from syncs.sandbox_provider import serve_in_thread
from syncs.services_oauth import oauth_sandbox_grant

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
IDLE_REASON = "No API request for this account in 14 days (demo)"


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


class Timeline:
    """When each part of the story happened, from the first day of last month (09:00 UTC) and
    from now. Every date lies in the past and in the order of the story, whatever today is
    (now is at least 28 days after the first day of last month)."""

    def __init__(self, now: datetime) -> None:
        this_month = now.date().replace(day=1)
        last_month = (this_month - timedelta(days=1)).replace(day=1)
        self.now = now
        self.last_month = datetime.combine(last_month, time(9, 0), tzinfo=now.tzinfo)

    def month(self, days: float) -> datetime:
        return self.last_month + timedelta(days=days)

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)


def _create(organization, origin_id, org_name, email, account_type, category, integration, credentials):
    """A demo end user's new account (INCOMPLETE until marked complete)."""
    account, _ = linked_account_create(
        organization=organization,
        category=category,
        integration=integration,
        end_user_origin_id=origin_id,
        end_user_organization_name=org_name,
        end_user_email_address=email,
        account_type=account_type,
        credentials=credentials,
    )
    return account


class Command(BaseCommand):
    help = "Seed the local demo (idempotent)."

    def handle(self, *args, **options):
        base_url = settings.PUBLIC_BASE_URL
        organization = Organization.objects.filter(name=DEMO_ORG).first()
        if organization is None:
            organization, production_key, test_key = organization_create(name=DEMO_ORG)
            self.stdout.write(f"Demo organization {organization.id}")
            self.stdout.write(f"  production API key: {production_key}")
            self.stdout.write(
                f"  test API key:       {test_key}   (shown once; create more with create_organization)"
            )
        self.base_url = base_url
        accounts = self._seed_accounts(organization, base_url=base_url)
        if demo_webhooks_seed(organization=organization, accounts=accounts):
            self.stdout.write("  webhook endpoint with a delivered, a retried and a failed delivery")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        membership_add(user=user, organization=organization)
        self.stdout.write(f"Log in at {base_url}/ as {DEMO_USER} / {DEMO_PASSWORD}")

    def _seed_accounts(self, organization, *, base_url: str) -> dict[str, LinkedAccount]:
        """The production account of each origin id (made now or found)."""
        timeline = Timeline(timezone.now())
        production: dict[str, LinkedAccount] = {}
        missing = []
        for person in PEOPLE:
            for account_type in (AccountType.PRODUCTION, AccountType.TEST):
                found = LinkedAccount.objects.filter(
                    organization=organization, end_user_origin_id=person[0], account_type=account_type
                ).first()
                if found is None:
                    missing.append((person, account_type))
                elif account_type == AccountType.PRODUCTION:
                    production[person[0]] = found
        # The account linked by OAuth consent (its grant is made by the sandbox server below).
        needs_oauth = not LinkedAccount.objects.filter(
            organization=organization, end_user_origin_id="wayne-005", integration="sandbox_oauth"
        ).exists()
        if not missing and not needs_oauth:
            return production
        with private_sandbox_provider():
            for (origin_id, org_name, email, target, category, integration), account_type in missing:
                account = self._seed_account(
                    organization,
                    origin_id,
                    org_name,
                    email,
                    target,
                    account_type,
                    timeline,
                    category,
                    integration,
                )
                if account_type == AccountType.PRODUCTION:
                    production[origin_id] = account
                if target == LinkedAccountStatus.RELINK_NEEDED and account_type == AccountType.TEST:
                    url = magic_link_create(account=account, base_url=base_url).magic_link_url
                    self.stdout.write(f"  relink page for Globex (test account): {url}")
            if needs_oauth:
                self._seed_oauth_account(organization)
        return production

    def _seed_oauth_account(self, organization):
        """One test account linked by OAuth consent (the sandbox answers "Allow"): a real code
        exchange with PKCE, then a real sync with its access token. The sandbox signs its tokens,
        so the grant still works on the provider `make run` starts afterwards."""
        credentials = self._consent(integration="sandbox_oauth")
        account = _create(
            organization,
            "wayne-005",
            "Wayne Enterprises",
            "hr@wayne.example",
            AccountType.TEST,
            "hris",
            "sandbox_oauth",
            credentials,
        )
        linked_account_mark_complete(account=account, reason="Linked by OAuth consent (demo)")
        self._sync(account, "Initial sync after linking (demo)")
        return account

    def _consent(self, *, integration: str) -> dict:
        """Tokens of a new grant of the sandbox authorization server: consent ("Allow",
        answered by the sandbox) and a real code exchange with PKCE."""
        redirect_uri = f"{settings.PUBLIC_BASE_URL}/link/oauth/callback"
        return oauth_sandbox_grant(integration=integration, redirect_uri=redirect_uri, label="demo")

    def _seed_account(
        self, organization, origin_id, org_name, email, target, account_type, timeline, category, integration
    ):
        # Each account has its own key, so revoking one breaks only that account.
        api_key = f"sk_sandbox_demo_{origin_id}_{account_type.lower()}"
        oauth = catalog.get(integration).auth_type == "OAUTH2"
        credentials = self._consent(integration=integration) if oauth else {"api_key": api_key}
        linked_at = {
            "acme-001": timeline.month(-25),
            "globex-002": timeline.month(-20),
            "initech-003": timeline.month(-15),
            "umbrella-004": timeline.ago(1),
            "hooli-005": timeline.ago(12),
            "wonka-006": timeline.month(5),
        }[origin_id]
        # INCOMPLETE: the end user opened the link page and has not finished.
        if target == LinkedAccountStatus.INCOMPLETE:
            credentials = None
        account = _create(
            organization, origin_id, org_name, email, account_type, category, integration, credentials
        )
        _backdate_change(account, linked_at - timedelta(minutes=10))
        LinkedAccount.objects.filter(pk=account.pk).update(created_at=linked_at - timedelta(minutes=10))
        if target == LinkedAccountStatus.INCOMPLETE:
            return account
        linked_account_mark_complete(account=account, reason="Linked by the end user (demo)")
        _backdate_change(account, linked_at)
        LinkedAccount.objects.filter(pk=account.pk).update(completed_at=linked_at)
        self._sync(account, "Initial sync after linking (demo)", at=linked_at + timedelta(minutes=1))
        if target == LinkedAccountStatus.COMPLETE:
            self._sync(account, "Resync (demo)")
        elif target == LinkedAccountStatus.RELINK_NEEDED:
            self._break_and_relink(account, timeline)
            # The provider revokes the key; the next real sync gets 401 and the syncs rule marks
            # the account RELINK_NEEDED with an ONGOING "Invalid API key" issue.
            sandbox_revoke_key(api_key=api_key, tenant=str(account.organization_id))
            broke_at = timeline.ago(2)
            self._sync(account, "Sync after the key was revoked (demo)", at=broke_at)
            _backdate_change(account, broke_at)
            Issue.objects.filter(linked_account=account, status="ONGOING").update(
                first_incident_time=broke_at, last_incident_time=broke_at, created_at=broke_at
            )
            if account_type == AccountType.PRODUCTION:
                # The operator mailed the end user a relink link (printed by the console backend).
                relink_email_send(account=account, base_url=self.base_url)
        elif target == LinkedAccountStatus.IDLE:
            linked_account_mark_idle(account=account, reason=IDLE_REASON)
            _backdate_change(account, timeline.ago(6))
        return account

    def _break_and_relink(self, account, timeline: Timeline) -> None:
        """Last month: a permission was removed (Relink Needed for five days), then the end user
        relinked and the issue was resolved."""
        broke_at, relinked_at = timeline.month(9), timeline.month(14)
        issue = issue_record_failure(
            account=account,
            error_description="Missing permissions",
            detail="403 Forbidden: the API key lost the employees:read scope (demo)",
        )
        linked_account_mark_relink_needed(account=account, reason="Missing permissions (demo)")
        _backdate_change(account, broke_at)
        linked_account_mark_complete(account=account, reason="Relinked by the end user (demo)")
        _backdate_change(account, relinked_at)
        issues_resolve_for_account(account=account, reason="Relinked by the end user (demo)")
        Issue.objects.filter(pk=issue.pk).update(
            first_incident_time=broke_at,
            last_incident_time=broke_at,
            created_at=broke_at,
            resolved_at=relinked_at,
        )

    def _sync(self, account, reason: str, *, at: datetime | None = None) -> None:
        run = sync_run_account(account_id=str(account.pk), trigger=SyncTrigger.FORCED, reason=reason)
        if run is None:
            return
        if at is not None:
            took = (run.finished_at - run.started_at) if run.finished_at else timedelta(seconds=1)
            SyncRun.objects.filter(pk=run.pk).update(started_at=at, finished_at=at + took)
        self.stdout.write(f"  synced {account.end_user_origin_id} ({account.account_type}): {run.status}")


def _backdate_change(account: LinkedAccount, at: datetime) -> None:
    """The account's latest status change (just written by a service) happened at `at`: demo
    history only; a real change is always recorded at the time it happens."""
    latest = LinkedAccountStatusChange.objects.filter(linked_account_uuid=account.pk).order_by("-id").first()
    LinkedAccountStatusChange.objects.filter(pk=latest.pk).update(at=at)
