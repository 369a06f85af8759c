"""The drill's data: a fresh PostgreSQL database seeded with one organization, 4 test API keys
(so that the per-key rate limit of 6000/min holds at 200 req/s), sandbox accounts (600/min per
account) and a webhook endpoint; then a wait for every account's first sync, and one employee id
per account for the single-employee reads."""

import sys
import time


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(*, accounts: int, receiver_url: str) -> dict:
    from django.utils import timezone

    from accounts.models import AccountType, LinkedAccount
    from accounts.services import (
        api_key_create,
        linked_account_create,
        linked_account_mark_complete,
        organization_create,
    )
    from issues.webhooks.endpoints import webhook_endpoint_create

    organization, _, test_key = organization_create(name="Load drill")
    keys = [test_key] + [
        api_key_create(organization=organization, environment=AccountType.TEST)[1] for _ in range(3)
    ]
    tokens = []
    for i in range(accounts):
        account, token = linked_account_create(
            organization=organization,
            category="hris",
            integration="sandbox",
            end_user_origin_id=f"load-{i}",
            end_user_organization_name=f"Load {i} Inc",
            end_user_email_address=f"load-{i}@example.com",
            account_type=AccountType.TEST,
            credentials={"api_key": f"sk_sandbox_load_{i}"},
        )
        linked_account_mark_complete(account=account, reason="Load drill")
        tokens.append((str(account.pk), token))
    LinkedAccount.objects.filter(organization=organization).update(next_sync_at=timezone.now())
    webhook_endpoint_create(organization=organization, url=receiver_url)
    return {"organization": organization, "keys": keys, "tokens": tokens}


def wait_for_first_syncs(*, accounts: int, timeout: float = 120) -> None:
    """Until `accounts` linked accounts each have a finished sync run (exits after `timeout` s)."""
    from syncs.models import SyncRun, SyncRunStatus

    deadline = time.monotonic() + timeout
    while (
        SyncRun.objects.filter(status=SyncRunStatus.DONE).values("linked_account").distinct().count()
        < accounts
    ):
        if time.monotonic() > deadline:
            sys.exit(f"the first syncs did not finish in {timeout:.0f} s")
        time.sleep(1)


def employee_ids(tokens: list[tuple[str, str]]) -> dict[str, str]:
    """One employee id per account id (the account id itself when it has none)."""
    from syncs.models import Employee

    found = {}
    for account_id, _ in tokens:
        employee = Employee.objects.filter(linked_account_id=account_id).only("id").first()
        found[account_id] = str(employee.id) if employee else account_id
    return found


def finished_runs() -> int:
    from syncs.models import SyncRun, SyncRunStatus

    return SyncRun.objects.filter(status=SyncRunStatus.DONE).count()
