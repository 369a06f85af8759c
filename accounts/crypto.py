"""Secrets at rest: keyed hashes for lookups, Fernet (with key rotation) for what must be read back."""

import hashlib
import hmac
import json
import secrets
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def token_hash(raw: str) -> str:
    """Keyed hash of a token: what the database stores and indexes."""
    return hmac.new(settings.TOKEN_HASH_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt_str(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_str(value: str) -> str:
    try:
        return fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: none of FERNET_KEYS matches") from exc


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_str(json.dumps(value, separators=(",", ":")))


def decrypt_json(value: str) -> dict[str, Any]:
    return json.loads(decrypt_str(value))


def rotate(value: str) -> str:
    """Re-encrypt with the first (primary) key."""
    return fernet().rotate(value.encode()).decode()


# Which columns hold Fernet ciphertext, for `manage.py rotate_fernet_keys`: every concrete model
# field whose name ends in "_encrypted" (the house convention), plus any registered here by an
# app whose column is named otherwise. `accounts` imports no other app: it finds them through
# Django's app registry.
_registered_fields: set[tuple[str, str]] = set()


def register_encrypted_field(model_label: str, field_name: str) -> None:
    """Call from an AppConfig.ready() for an encrypted column not named `*_encrypted`."""
    _registered_fields.add((model_label, field_name))


def encrypted_fields() -> list[tuple[Any, str]]:
    """(model class, field name) of every encrypted column, in a stable order."""
    from django.apps import apps

    found: set[tuple[str, str]] = set(_registered_fields)
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if field.name.endswith("_encrypted"):
                found.add((model._meta.label, field.name))
    return [(apps.get_model(label), name) for label, name in sorted(found)]


def is_primary_ciphertext(value: str) -> bool:
    """True when the first (primary) key alone decrypts it: safe to drop the other keys."""
    try:
        Fernet(settings.FERNET_KEYS[0].encode()).decrypt(value.encode())
    except InvalidToken:
        return False
    return True
