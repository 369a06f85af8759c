"""An Employee's ssn and date_of_birth are encrypted at rest: a real sync from the sandbox provider
(on a socket) stores no clear value (read back with raw SQL), the API answers them only with
include_sensitive_fields=true, a repeat sync of unchanged data writes nothing (the digest is of a
keyed fingerprint, not of the randomized ciphertext), key rotation re-encrypts them, and the
migration encrypts rows synced before it (and decrypts them on the way down)."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from syncs import common_models, sensitive
from syncs.models import Employee
from syncs.runs import sync_run_account
from syncs.sandbox_provider import employee as sandbox_employee
from syncs.storage import synced_records_store

ADA = sandbox_employee(1)  # emp_0001, as the sandbox provider serves it


def _raw_rows(account) -> list[str]:
    """Every stored employee row of the account as PostgreSQL (or SQLite) text, every column."""
    key = account.pk.hex if connection.vendor == "sqlite" else account.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM syncs_employee WHERE linked_account_id = %s", [key])
        rows = cursor.fetchall()
    return [" ".join(str(value) for value in row) for row in rows]


def _synced(owner):
    account, token = owner.linked_account(origin_id="sensitive-1")
    run = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert run.status == "DONE", run.error_message
    return account, token, run


def _ada(owner, token, **params) -> dict:
    api = owner.client(account_token=token)
    body = api.get("/api/hris/v1/employees", {"remote_id": "emp_0001", **params}).json()
    return body["results"][0]


@pytest.mark.django_db
def test_a_synced_row_holds_no_clear_value_and_the_api_answers_on_request(owner, sandbox_provider):
    account, token, run = _synced(owner)
    rows = _raw_rows(account)
    assert len(rows) == 200
    everything = "\n".join(rows)
    assert not any(sandbox_employee(i)["ssn"] in everything for i in range(1, 201))
    assert ADA["date_of_birth"] not in everything

    hidden = _ada(owner, token)
    assert hidden["ssn"] is None and hidden["date_of_birth"] is None
    shown = _ada(owner, token, include_sensitive_fields="true")
    assert shown["ssn"] == ADA["ssn"]
    assert shown["date_of_birth"] == f"{ADA['date_of_birth']}T00:00:00Z"
    one = owner.client(account_token=token).get(
        f"/api/hris/v1/employees/{shown['id']}", {"include_sensitive_fields": "true"}
    )
    assert one.json()["ssn"] == ADA["ssn"]


@pytest.mark.django_db
def test_a_repeat_sync_of_unchanged_data_writes_nothing(owner, sandbox_provider):
    account, token, first = _synced(owner)
    assert first.records_created == 200
    before = dict(Employee.objects.filter(linked_account=account).values_list("remote_id", "ssn_encrypted"))
    again = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert again.status == "DONE"
    assert (again.records_created, again.records_updated) == (0, 0)
    after = dict(Employee.objects.filter(linked_account=account).values_list("remote_id", "ssn_encrypted"))
    assert after == before  # the same ciphertexts: nothing was rewritten


@pytest.mark.django_db
def test_a_changed_sensitive_value_is_a_changed_record(owner):
    """The fingerprint follows the value: a new SSN is an update, the same one is not."""
    account, _ = owner.linked_account(origin_id="sensitive-2")
    model = common_models.get("hris.Employee")
    record = {"remote_id": "e1", "first_name": "Ada", "ssn": "900-11-0001", "date_of_birth": None}

    def store(**changes):
        return synced_records_store(
            account=account,
            records={model.model_id: [{**record, **changes}]},
            now=timezone.now(),
            complete=True,
        )[model.model_id]

    assert store()["created"] == 1
    assert store()["updated"] == 0
    assert store(ssn="900-11-0002")["updated"] == 1
    assert store(ssn="900-11-0002", date_of_birth=datetime(1990, 5, 17, tzinfo=UTC))["updated"] == 1
    row = Employee.objects.get(linked_account=account)
    assert sensitive.reveal(row.ssn_encrypted) == "900-11-0002"
    assert sensitive.reveal_datetime(row.date_of_birth_encrypted) == datetime(1990, 5, 17, tzinfo=UTC)
    assert "900-11-0002" not in row.content_hash


@pytest.mark.django_db
def test_key_rotation_re_encrypts_them(owner, sandbox_provider, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    account, token, _ = _synced(owner)
    before = Employee.objects.get(linked_account=account, remote_id="emp_0001")

    settings.FERNET_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_fernet_keys", stdout=out)
    assert "syncs.Employee.ssn_encrypted: 200 values re-encrypted" in out.getvalue()
    assert "syncs.Employee.date_of_birth_encrypted: 200 values re-encrypted" in out.getvalue()

    settings.FERNET_KEYS = [new]  # the old key is gone: everything still decrypts
    after = Employee.objects.get(pk=before.pk)
    assert after.ssn_encrypted != before.ssn_encrypted
    assert _ada(owner, token, include_sensitive_fields="true")["ssn"] == ADA["ssn"]
    again = sync_run_account(account_id=str(account.pk), trigger="forced")
    assert (again.status, again.records_updated) == ("DONE", 0)  # rotation changed no digest


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_in_place_and_back(owner):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    account, _ = owner.linked_account(origin_id="sensitive-3")
    before, after = (
        [("syncs", "0001_squashed_0007_oauth_token")],
        [("syncs", "0008_page_digests_sensitive_encrypted")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO syncs_employee (id, linked_account_id, remote_id, remote_was_deleted, created_at,"
                " modified_at, content_hash, first_name, last_name, display_full_name, ssn, date_of_birth)"
                " VALUES (gen_random_uuid(), %s, 'old-1', false, now(), now(), 'x', 'Ada', 'L', 'Ada L',"
                " '900-55-0001', '1990-05-17T00:00:00Z'),"
                " (gen_random_uuid(), %s, 'old-2', false, now(), now(), 'x', 'Bob', 'L', 'Bob L', NULL, NULL)",
                [account.pk, account.pk],
            )
        MigrationExecutor(connection).migrate(after)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT remote_id, ssn_encrypted, date_of_birth_encrypted FROM syncs_employee ORDER BY remote_id"
            )
            (_, ssn, born), (_, none_ssn, none_born) = cursor.fetchall()
        assert "900-55-0001" not in ssn and sensitive.reveal(ssn) == "900-55-0001"
        assert sensitive.reveal_datetime(born) == datetime(1990, 5, 17, tzinfo=UTC)
        assert none_ssn is None and none_born is None

        MigrationExecutor(connection).migrate(before)  # reversible: clear again
        with connection.cursor() as cursor:
            cursor.execute("SELECT ssn, date_of_birth FROM syncs_employee WHERE remote_id = 'old-1'")
            assert cursor.fetchone() == ("900-55-0001", datetime(1990, 5, 17, tzinfo=UTC))
    finally:
        MigrationExecutor(connection).migrate(after)
