"""Reads for the link flow: token lookups, the integrations an end user may pick, and the plain
words that tell an end user why their account needs reconnecting."""

from django.db.models import QuerySet
from django.utils import timezone

from accounts import catalog
from accounts.crypto import token_hash
from accounts.models import AccountType, LinkedAccount, LinkedAccountStatus, LinkedAccountStatusChange

from .models import LinkAttempt, LinkToken, RelinkEmail

RELINK_REASON = "Relinked by the end user"

# What each issue means to an end user, in their words. Keys are issues' ErrorDescription values.
_PLAIN_WORDS = {
    "Invalid API key": "{integration} stopped accepting the API key we had for {organization}. "
    "It was probably revoked, rotated or has expired.",
    "Missing permissions": "The API key for {integration} no longer has the permissions needed to read "
    "{organization}'s data.",
    "Rate limited": "{integration} kept turning our requests away because of its rate limit.",
    "Third-party offline": "{integration} could not be reached when we last tried.",
}


def link_token_find(*, raw_token: str) -> LinkToken | None:
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        LinkToken.objects.select_related("organization", "linked_account")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )


def link_token_problem(*, token: LinkToken | None) -> str | None:
    """None when the token can be used now, else 'unknown', 'used' or 'expired'."""
    if token is None:
        return "unknown"
    if token.used_at is not None:
        return "used"
    if token.expires_at <= timezone.now():
        return "expired"
    return None


def integration_allowed_for(*, slug: str, account_type: str) -> bool:
    """Whether new links of this environment may use the integration: a sandbox is for test
    only. (A relink keeps its account's integration: an account linked before this rule is
    still relinked.)"""
    return account_type == AccountType.TEST or not catalog.get(slug).test_only


def integration_allowed_for_token(*, token: LinkToken, slug: str) -> bool:
    return token.linked_account_id is not None or integration_allowed_for(
        slug=slug, account_type=token.account_type
    )


def integrations_for_link(*, token: LinkToken) -> list[catalog.IntegrationInfo]:
    """The integrations the end user may choose: those serving one of the token's categories
    (sandboxes only on a test token)."""
    wanted = set(token.categories)
    return [
        info
        for info in catalog.all_integrations()
        if wanted & set(info.categories) and (token.account_type == AccountType.TEST or not info.test_only)
    ]


def integration_exists(*, slug: str) -> bool:
    return any(info.slug == slug for info in catalog.all_integrations())


def _ongoing_issue_descriptions(*, account: LinkedAccount) -> list[str]:
    try:
        from issues.models import Issue
    except ImportError:  # the issues app not migrated yet in an old checkout
        return []
    return list(
        Issue.objects.filter(linked_account=account, status="ONGOING")
        .order_by("-last_incident_time")
        .values_list("error_description", flat=True)
    )


def relink_explanation(*, account: LinkedAccount) -> str:
    """Why the account needs reconnecting, in plain words: its ONGOING issue, else the reason of
    its latest status change."""
    words = {
        "integration": catalog.get(account.integration).name,
        "organization": account.end_user_organization_name,
    }
    for description in _ongoing_issue_descriptions(account=account):
        if description in _PLAIN_WORDS:
            return _PLAIN_WORDS[description].format(**words)
    if account.status == LinkedAccountStatus.RELINK_NEEDED:
        change = (
            LinkedAccountStatusChange.objects.filter(
                linked_account_uuid=account.id, to_status=LinkedAccountStatus.RELINK_NEEDED
            )
            .order_by("-at", "-id")
            .first()
        )
        if change and change.reason:
            return f"{words['integration']} stopped working for {words['organization']}: {change.reason}"
        return f"{words['integration']} stopped working for {words['organization']}."
    return f"You are replacing the credentials {words['integration']} uses for {words['organization']}."


def relink_broke_again(*, account: LinkedAccount) -> bool:
    """The end user relinked this account before, and it needs a relink again."""
    if account.status != LinkedAccountStatus.RELINK_NEEDED:
        return False
    return LinkedAccountStatusChange.objects.filter(
        linked_account_uuid=account.id, reason=RELINK_REASON
    ).exists()


def relink_emails_for_account(*, account: LinkedAccount) -> QuerySet[RelinkEmail]:
    return RelinkEmail.objects.filter(linked_account=account).select_related("sent_by").order_by("-sent_at")


def relink_email_last_sent(*, account: LinkedAccount) -> RelinkEmail | None:
    return relink_emails_for_account(account=account).first()


def link_attempts_for_account(*, account: LinkedAccount, limit: int = 20) -> list[LinkAttempt]:
    return list(LinkAttempt.objects.filter(linked_account=account).order_by("-created_at")[:limit])
