"""Secrets at rest and FERNET_KEYS rotation: old key -> new key added first -> rotate_fernet_keys
-> old key removed -> every secret still decrypts (account tokens, credentials, webhook keys).

Defends against: secrets readable from a database dump, and a key rotation that loses secrets.

Test by test (what each defends against):
- test_secrets_are_encrypted_at_rest: account tokens, credentials and webhook keys in plain text in the
  database.
- test_rotation_then_dropping_the_old_key: a Fernet key rotation that leaves secrets only the old key
  decrypts.
- test_without_rotation_dropping_the_old_key_loses_the_secrets: an operator dropping the old key too early
  without noticing.
- test_every_encrypted_column_is_rotated: a new encrypted column forgotten by rotate_fernet_keys.
"""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command

from accounts.crypto import encrypted_fields
from accounts.models import LinkedAccount
from accounts.selectors import linked_account_credentials, linked_account_token
from issues.models import WebhookEndpoint
from issues.selectors import webhook_endpoint_signature_key
from issues.webhooks.endpoints import webhook_endpoint_create

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


@pytest.fixture
def old_key_data(owner, settings):
    settings.FERNET_KEYS = [OLD]
    credentials = {"api_key": "sk_sandbox_rotation_secret_1"}
    account, token = owner.linked_account(origin_id="rot-1", credentials=credentials)
    endpoint, signature_key = webhook_endpoint_create(
        organization=owner.organization, url="https://hooks.example.com/relink"
    )
    return account, token, credentials, endpoint, signature_key


def _stored(account: LinkedAccount, endpoint: WebhookEndpoint) -> list[str]:
    row = LinkedAccount.objects.values("account_token_encrypted", "credentials_encrypted").get(pk=account.pk)
    key = WebhookEndpoint.objects.values_list("signature_key_encrypted", flat=True).get(pk=endpoint.pk)
    return [row["account_token_encrypted"], row["credentials_encrypted"], key]


def test_secrets_are_encrypted_at_rest(old_key_data):
    account, token, credentials, endpoint, signature_key = old_key_data
    stored = " ".join(_stored(account, endpoint))
    for secret in (token, credentials["api_key"], signature_key):
        assert secret not in stored
    assert account.account_token_hash != token


def test_rotation_then_dropping_the_old_key(owner, old_key_data, settings):
    account, token, credentials, endpoint, signature_key = old_key_data
    before = _stored(account, endpoint)

    settings.FERNET_KEYS = [NEW, OLD]
    out = StringIO()
    with pytest.raises(CommandError, match="still need an old key"):
        call_command("rotate_fernet_keys", "--check", stdout=out)
    call_command("rotate_fernet_keys", stdout=out)
    output = out.getvalue()
    assert "issues.WebhookEndpoint.signature_key_encrypted: 1 values re-encrypted" in output
    assert "the old keys can be removed" in output
    after = _stored(account, endpoint)
    assert all(a != b for a, b in zip(before, after, strict=True))

    settings.FERNET_KEYS = [NEW]
    account = LinkedAccount.objects.get(pk=account.pk)
    endpoint.refresh_from_db()
    assert linked_account_token(account=account) == token
    assert linked_account_credentials(account=account) == credentials
    assert webhook_endpoint_signature_key(endpoint=endpoint) == signature_key
    call_command("rotate_fernet_keys", "--check", stdout=StringIO())
    # The account token still authenticates (lookups are by keyed hash, not ciphertext).
    assert owner.client(account_token=token).get("/api/hris/v1/account-details").status_code == 200


def test_without_rotation_dropping_the_old_key_loses_the_secrets(old_key_data, settings):
    """The control: the test above would fail if the command re-encrypted nothing."""
    account, *_ = old_key_data
    settings.FERNET_KEYS = [NEW]
    account = LinkedAccount.objects.get(pk=account.pk)
    with pytest.raises(ValueError, match="cannot decrypt"):
        linked_account_token(account=account)


def test_every_encrypted_column_is_rotated():
    """A column holding ciphertext in any app is found by the command (named `*_encrypted` or
    registered with accounts.crypto.register_encrypted_field)."""
    covered = {(model._meta.label, name) for model, name in encrypted_fields()}
    assert ("accounts.LinkedAccount", "credentials_encrypted") in covered
    assert ("accounts.LinkedAccount", "account_token_encrypted") in covered
    assert ("issues.WebhookEndpoint", "signature_key_encrypted") in covered
    suspicious = {
        (model._meta.label, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if any(word in field.name for word in ("encrypted", "secret", "ciphertext"))
    }
    assert suspicious <= covered
