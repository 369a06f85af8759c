"""Writes for organizations, API keys and linked accounts. Every status change goes through
`_linked_account_transition`: one locked row, one django-fsm transition, one history row."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import outbox
from .crypto import encrypt_json, encrypt_str, new_token, rotate, token_hash
from .metrics import status_transition_observe
from .models import (
    AccountType,
    ApiKey,
    HistoryStatus,
    LinkedAccount,
    LinkedAccountStatus,
    LinkedAccountStatusChange,
    Membership,
    Organization,
)
from .origins import origins_normalize
from .selectors import linked_account_details

API_KEY_PREFIX = {AccountType.PRODUCTION: "rl_live_", AccountType.TEST: "rl_test_"}


def organization_create(*, name: str) -> tuple[Organization, str, str]:
    """Returns the organization and its first production and test API keys (shown once)."""
    with transaction.atomic():
        organization = Organization.objects.create(name=name)
        _, production_key = api_key_create(organization=organization, environment=AccountType.PRODUCTION)
        _, test_key = api_key_create(organization=organization, environment=AccountType.TEST)
    return organization, production_key, test_key


def api_key_create(*, organization: Organization, environment: str, name: str = "") -> tuple[ApiKey, str]:
    raw = new_token(API_KEY_PREFIX[AccountType(environment)])
    key = ApiKey.objects.create(
        organization=organization,
        environment=environment,
        name=name,
        prefix=raw[:12],
        key_hash=token_hash(raw),
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def membership_add(*, user, organization: Organization) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization)
    return membership


def _record_change(
    *,
    account: LinkedAccount,
    from_status: str,
    to_status: str,
    reason: str,
    announce: Callable[[LinkedAccountStatusChange], None] | None = None,
) -> LinkedAccountStatusChange:
    now = timezone.now()
    change = LinkedAccountStatusChange.objects.create(
        organization_id=account.organization_id,
        linked_account=account if to_status != HistoryStatus.DELETED else None,
        linked_account_uuid=account.id,
        account_type=account.account_type,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:500],
        at=now,
        account_snapshot=linked_account_details(account=account),
        # Announced by the caller in this transaction: written processed, no listener hears of it.
        processed_at=now if announce is not None else None,
    )
    if announce is not None:
        announce(change)
    else:
        transaction.on_commit(lambda: outbox.notify([change.id]))
    transaction.on_commit(lambda: status_transition_observe(from_status=from_status, to_status=to_status))
    return change


def linked_account_create(
    *,
    organization: Organization,
    category: str,
    integration: str,
    end_user_origin_id: str,
    end_user_organization_name: str,
    end_user_email_address: str,
    account_type: str,
    credentials: dict[str, Any] | None = None,
) -> tuple[LinkedAccount, str]:
    """A new INCOMPLETE account and its account token. Raises IntegrityError when the
    (organization, environment, category, origin id) is taken: callers lock or retry."""
    raw_token = new_token()
    with transaction.atomic():
        account = LinkedAccount.objects.create(
            organization=organization,
            category=category,
            integration=integration,
            end_user_origin_id=end_user_origin_id,
            end_user_organization_name=end_user_organization_name,
            end_user_email_address=end_user_email_address,
            account_type=account_type,
            account_token_hash=token_hash(raw_token),
            account_token_encrypted=encrypt_str(raw_token),
            credentials_encrypted=encrypt_json(credentials) if credentials else "",
        )
        _record_change(account=account, from_status="", to_status=account.status, reason="Link started")
    return account, raw_token


def linked_account_set_status_detail(*, account: LinkedAccount, detail: str) -> None:
    """Say why an INCOMPLETE account is not linked yet (a link attempt that failed); no effect on
    an account that is linked, whose status explains itself."""
    detail = detail[:500]
    LinkedAccount.objects.filter(pk=account.pk, status=LinkedAccountStatus.INCOMPLETE).update(
        status_detail=detail, updated_at=timezone.now()
    )
    if account.status == LinkedAccountStatus.INCOMPLETE:
        account.status_detail = detail


def linked_account_set_integration(*, account: LinkedAccount, integration: str) -> bool:
    """An account never linked (INCOMPLETE, never COMPLETE) takes the integration its end user
    tried last. True when the account has that integration (now or already); False for a linked
    account of another integration, which keeps its own."""
    if account.integration == integration:
        return True
    if account.status != LinkedAccountStatus.INCOMPLETE or account.completed_at is not None:
        return False
    changed = LinkedAccount.objects.filter(
        pk=account.pk, status=LinkedAccountStatus.INCOMPLETE, completed_at__isnull=True
    ).update(integration=integration, updated_at=timezone.now())
    if changed:
        account.integration = integration
    return bool(changed)


def _linked_account_transition(
    *,
    account: LinkedAccount,
    transition: str,
    reason: str,
    locked: bool = False,
    announce: Callable[[LinkedAccountStatusChange], None] | None = None,
) -> LinkedAccount:
    """Lock the row, run the django-fsm transition (TransitionNotAllowed leaves everything as it
    was), save, write one history row. The caller's instance is brought up to date too.

    `locked`: `account` was read FOR UPDATE in the caller's transaction, which is still open;
    it is changed in place, not read again. `announce`: the caller turns the history row into
    its webhooks itself, in this transaction (called with the row; see `_record_change`)."""
    if locked:
        return _transition_locked(account=account, transition=transition, reason=reason, announce=announce)
    with transaction.atomic():
        row = LinkedAccount.objects.select_for_update().get(pk=account.pk)
        _transition_locked(account=row, transition=transition, reason=reason, announce=announce)
    _copy_state(source=row, target=account)
    return row


def _transition_locked(
    *,
    account: LinkedAccount,
    transition: str,
    reason: str,
    announce: Callable[[LinkedAccountStatusChange], None] | None,
) -> LinkedAccount:
    from_status = account.status
    getattr(account, transition)()
    update_fields = ["status", "updated_at"]
    if account.status == LinkedAccountStatus.COMPLETE and account.completed_at is None:
        account.completed_at = timezone.now()
        update_fields.append("completed_at")
    account.save(update_fields=update_fields)
    _record_change(
        account=account, from_status=from_status, to_status=account.status, reason=reason, announce=announce
    )
    return account


def _copy_state(*, source: LinkedAccount, target: LinkedAccount) -> None:
    if source is target:
        return
    # FSMField(protected=True) refuses attribute assignment; the descriptor stores in __dict__.
    for name in ("status", "completed_at", "updated_at"):
        target.__dict__[name] = getattr(source, name)


def linked_account_mark_complete(*, account: LinkedAccount, reason: str) -> LinkedAccount:
    return _linked_account_transition(account=account, transition="complete", reason=reason)


def linked_account_mark_relink_needed(
    *,
    account: LinkedAccount,
    reason: str,
    locked: bool = False,
    announce: Callable[[LinkedAccountStatusChange], None] | None = None,
) -> LinkedAccount:
    """`locked` and `announce`: see `_linked_account_transition` (a failing sync's finish)."""
    return _linked_account_transition(
        account=account, transition="mark_relink_needed", reason=reason, locked=locked, announce=announce
    )


def linked_account_mark_idle(*, account: LinkedAccount, reason: str) -> LinkedAccount:
    return _linked_account_transition(account=account, transition="mark_idle", reason=reason)


def linked_account_set_credentials(*, account: LinkedAccount, credentials: dict[str, Any]) -> None:
    account.credentials_encrypted = encrypt_json(credentials)
    LinkedAccount.objects.filter(pk=account.pk).update(
        credentials_encrypted=account.credentials_encrypted, updated_at=timezone.now()
    )


def linked_account_regenerate_token(*, account: LinkedAccount) -> str:
    """A new account token; the old one stops working as this commits."""
    raw_token = new_token()
    account.account_token_hash = token_hash(raw_token)
    account.account_token_encrypted = encrypt_str(raw_token)
    account.save(update_fields=["account_token_hash", "account_token_encrypted", "updated_at"])
    return raw_token


def linked_account_set_sync_frequency(*, account: LinkedAccount, sync_frequency: str) -> None:
    account.sync_frequency = sync_frequency
    account.save(update_fields=["sync_frequency", "updated_at"])


def linked_account_delete(*, account: LinkedAccount, reason: str = "Deleted") -> None:
    """Purge the account, its credentials and (by cascade) its synced data; the origin id is
    free again. The status history stays, with a DELETED row, for billing."""
    with transaction.atomic():
        locked = LinkedAccount.objects.select_for_update().get(pk=account.pk)
        _record_change(
            account=locked, from_status=locked.status, to_status=HistoryStatus.DELETED, reason=reason
        )
        locked.delete()


def linked_account_record_inbound_use(*, account: LinkedAccount) -> None:
    """An inbound API request for the account: remember it at most once an interval (so reads
    stay reads), and wake an IDLE account."""
    now = timezone.now()
    interval = timedelta(seconds=settings.INBOUND_USE_RECORD_INTERVAL_SECONDS)
    recently_recorded = account.last_inbound_at is not None and account.last_inbound_at > now - interval
    if recently_recorded and account.status != LinkedAccountStatus.IDLE:
        return
    LinkedAccount.objects.filter(pk=account.pk).filter(
        Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=now - interval)
    ).update(last_inbound_at=now)
    account.last_inbound_at = now
    if account.status == LinkedAccountStatus.IDLE:
        linked_account_mark_complete(account=account, reason="Inbound API request")


def linked_account_reencrypt_all() -> int:
    """After adding a new first key to FERNET_KEYS: re-encrypt every secret with it."""
    count = 0
    for account in LinkedAccount.objects.only(
        "id", "account_token_encrypted", "credentials_encrypted"
    ).iterator():
        fields = {"account_token_encrypted": rotate(account.account_token_encrypted)}
        if account.credentials_encrypted:
            fields["credentials_encrypted"] = rotate(account.credentials_encrypted)
        # Only if unchanged since read: a relink or token regeneration in between has already
        # written with the new first key, and must not be overwritten with the old secret.
        LinkedAccount.objects.filter(
            pk=account.pk,
            account_token_encrypted=account.account_token_encrypted,
            credentials_encrypted=account.credentials_encrypted,
        ).update(**fields)
        count += 1
    return count


def encrypted_fields_reencrypt_all(*, skip_models: tuple[type, ...] = (LinkedAccount,)) -> dict[str, int]:
    """Re-encrypt every other app's encrypted column (accounts.crypto.encrypted_fields) with the
    first key of FERNET_KEYS. Returns the count of values per "app.Model.field". A row is updated
    only if its value is unchanged since it was read (a concurrent write already used the new key)."""
    from .crypto import encrypted_fields

    counts: dict[str, int] = {}
    for model, field in encrypted_fields():
        if issubclass(model, skip_models):
            continue
        count = 0
        rows = model._default_manager.exclude(**{field: ""}).exclude(**{f"{field}__isnull": True})
        chunk: list[tuple[Any, str]] = []
        for row in rows.values_list("pk", field).iterator(chunk_size=500):
            chunk.append(row)
            if len(chunk) == 500:
                count += _reencrypt_chunk(model=model, field=field, rows=chunk)
                chunk = []
        count += _reencrypt_chunk(model=model, field=field, rows=chunk)
        counts[f"{model._meta.label}.{field}"] = count
    return counts


def _reencrypt_chunk(*, model: type, field: str, rows: list[tuple[Any, str]]) -> int:
    """Re-encrypt a chunk of (pk, value) in one statement (a table of synced employees holds many
    values: one UPDATE and commit per value took ~6 ms each), each row only if unchanged since
    read. SQLite (development): one UPDATE per value, in one transaction."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for pk, value in rows:
                model._default_manager.filter(pk=pk, **{field: value}).update(**{field: rotate(value)})
        return len(rows)
    quote = connection.ops.quote_name
    table, pk_column = quote(model._meta.db_table), quote(model._meta.pk.column)
    column = quote(model._meta.get_field(field).column)
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    sql = (
        f"UPDATE {table} AS t SET {column} = v.new FROM (VALUES {values}) AS v(pk, old, new) "  # noqa: S608
        f"WHERE t.{pk_column} = v.pk AND t.{column} = v.old"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [item for pk, value in rows for item in (pk, value, rotate(value))])
    return len(rows)


def organization_update_settings(
    *,
    organization: Organization,
    default_sync_frequency: str,
    relink_support_text: str,
    relink_reminder_days: int | None,
    embedding_origins: list[str] | None = None,
) -> Organization:
    """The operator's settings: default sync frequency, the relink support text shown to end
    users, the relink reminder schedule (days between reminders; None = off) and the origins
    allowed to embed the link page (None: unchanged; ValidationError on a non-origin)."""
    fields = ["default_sync_frequency", "relink_support_text", "relink_reminder_days"]
    if embedding_origins is not None:
        organization.embedding_origins = origins_normalize(embedding_origins)
        fields.append("embedding_origins")
    organization.default_sync_frequency = default_sync_frequency
    organization.relink_support_text = relink_support_text
    organization.relink_reminder_days = relink_reminder_days
    organization.save(update_fields=fields)
    return organization
