"""Link attempts: every submission of credentials, and every OAuth consent round trip, is recorded
against the account it is for, and a new link that does not finish still leaves the account,
INCOMPLETE, as Merge means it: the end user started linking and has not finished (its
status_detail says why; it is never billed, never synced). A later successful link with the same
origin id completes that same account (same id, same account token: `linking.finish` finds it by
origin id).

An API-key attempt is recorded once its check has failed (`link_attempt_record_failure`). An
OAuth consent is recorded when it starts, as not finished (the same function), and its row is
settled by the callback (`link_attempt_settle`: declined, token exchange failed, …) or by the
finished link (`link_attempt_record_success`); a consent the end user abandons stays as it
started. A relink's account keeps its status whatever the attempt: only the attempt is recorded.
"""

from django.db import IntegrityError, transaction

from accounts.models import LinkedAccount
from accounts.services import (
    linked_account_create,
    linked_account_set_integration,
    linked_account_set_status_detail,
)

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
    *,
    token: LinkToken,
    category: str,
    integration: str,
    error_description: str,
    message: str,
    detail: str | None = None,
) -> LinkAttempt:
    """An attempt with `token` did not link (yet): the account it is for (a relink's, or the
    origin id's, or a new INCOMPLETE one without credentials) gets the attempt, and an INCOMPLETE
    one says why in its status_detail (`detail`, by default the failed credentials' error). Safe
    against concurrent attempts for the same origin id: one account, whoever comes first. The
    link token stays usable for a retry."""
    with transaction.atomic():
        account = linked_account_for_token(token=token, category=category)
        if account is None:
            try:
                account = linked_account_create_for_token(
                    token=token, category=category, integration=integration, credentials=None
                )
            except IntegrityError:  # a concurrent attempt for the same origin id created it
                account = linked_account_for_token(token=token, category=category)
        # An account never linked shows what the end user tried last.
        linked_account_set_integration(account=account, integration=integration)
        if detail is None:
            detail = f"The end user's credentials failed ({error_description}): {message}"
        linked_account_set_status_detail(account=account, detail=detail)
        return LinkAttempt.objects.create(
            linked_account=account,
            integration=integration,
            succeeded=False,
            error_description=(error_description or "")[:64],
            message=message[:300],
        )


def link_attempt_settle(*, attempt_id, error_description: str, message: str, detail: str) -> None:
    """The outcome of an attempt recorded before it ended (an OAuth consent the callback refused):
    the row says why, and its account, if still INCOMPLETE, too."""
    with transaction.atomic():
        attempt = LinkAttempt.objects.select_related("linked_account").filter(pk=attempt_id).first()
        if attempt is None or attempt.succeeded:
            return
        attempt.error_description = error_description[:64]
        attempt.message = message[:300]
        attempt.save(update_fields=["error_description", "message"])
        linked_account_set_status_detail(account=attempt.linked_account, detail=detail)


def link_attempt_record_success(*, account: LinkedAccount, integration: str, attempt_id=None) -> None:
    """The link finished: the attempt recorded when it started (an OAuth consent) becomes the
    successful one, else a new row says so."""
    settled = (
        LinkAttempt.objects.filter(pk=attempt_id, linked_account=account).update(
            succeeded=True, integration=integration, error_description="", message=""
        )
        if attempt_id
        else 0
    )
    if not settled:
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
