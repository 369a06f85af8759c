"""Link attempts: every submission of credentials is recorded against the account it is for, and a
new link whose credentials fail still leaves the account, INCOMPLETE, as Merge means it: the end
user started linking and has not finished (its status_detail says why; it is never billed, never
synced). A later successful link with the same origin id completes that same account (same id,
same account token: `linking.finish` finds it by origin id)."""

from django.db import IntegrityError, transaction

from accounts.models import LinkedAccount, LinkedAccountStatus
from accounts.services import linked_account_create, linked_account_set_status_detail

from .models import LinkAttempt, LinkToken


def linked_account_create_for_token(
    *, token: LinkToken, category: str, integration: str, credentials: dict | None
) -> LinkedAccount:
    """A new account for the end user `token` names (its organization, environment, origin id,
    name and e-mail). IntegrityError when that origin id already has one."""
    account, _account_token = linked_account_create(
        organization=token.organization,
        category=category,
        integration=integration,
        end_user_origin_id=token.end_user_origin_id,
        end_user_organization_name=token.end_user_organization_name,
        end_user_email_address=token.end_user_email_address,
        account_type=token.account_type,
        credentials=credentials,
    )
    return account


def link_attempt_record_failure(
    *, token: LinkToken, category: str, integration: str, error_description: str, message: str
) -> LinkedAccount:
    """The credentials typed in for `token` failed: the account it is for (a relink's, or the
    origin id's, or a new INCOMPLETE one without credentials) gets the attempt, and an INCOMPLETE
    one says why in its status_detail. The link token stays usable for a retry."""
    with transaction.atomic():
        account = linked_account_for_token(token=token, category=category)
        if account is None:
            try:
                account = linked_account_create_for_token(
                    token=token, category=category, integration=integration, credentials=None
                )
            except IntegrityError:  # a concurrent attempt for the same origin id created it
                account = linked_account_for_token(token=token, category=category)
        if account.status == LinkedAccountStatus.INCOMPLETE:
            linked_account_set_status_detail(
                account=account, detail=f"The end user's credentials failed ({error_description}): {message}"
            )
        LinkAttempt.objects.create(
            linked_account=account,
            integration=integration,
            succeeded=False,
            error_description=error_description or "",
            message=message[:300],
        )
    return account


def link_attempt_record_success(*, account: LinkedAccount, integration: str) -> None:
    LinkAttempt.objects.create(linked_account=account, integration=integration, succeeded=True)


def linked_account_for_token(*, token: LinkToken, category: str) -> LinkedAccount | None:
    """The account (locked) `token` is for: the one it is bound to (a relink's), else the end
    user's in this category by origin id; None for a new link."""
    if token.linked_account_id is not None:
        bound = LinkedAccount.objects.select_for_update().filter(pk=token.linked_account_id).first()
        if bound is not None:
            return bound
    return linked_account_for_origin(token=token, category=category)


def linked_account_for_origin(*, token: LinkToken, category: str) -> LinkedAccount | None:
    """The account (locked) of the end user `token` names in this category, if there is one."""
    return (
        LinkedAccount.objects.select_for_update()
        .filter(
            organization=token.organization,
            account_type=token.account_type,
            category=category,
            end_user_origin_id=token.end_user_origin_id,
        )
        .first()
    )
