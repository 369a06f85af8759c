"""Credential validation: one real request to the provider with the end user's credentials, before
a link or relink stores them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from . import integrations
from .integrations.base import ErrorClass, ProviderError
from .request_logs import request_log_blame_last, request_logs_write
from .run_failure import ERROR_DESCRIPTION

logger = logging.getLogger(__name__)

# Plain words for the end user on the link page: never the credentials, never provider internals.
END_USER_MESSAGE: dict[str, str] = {
    ErrorClass.CREDENTIALS_REJECTED: "These credentials were rejected. Check them and try again.",
    ErrorClass.MISSING_PERMISSIONS: "These credentials work but lack a permission we need. "
    "Ask your administrator for read access to employees.",
    ErrorClass.RATE_LIMITED: "The service is busy right now. Please try again in a few minutes.",
    ErrorClass.PROVIDER_OFFLINE: "We could not reach the service. Please try again in a few minutes.",
    ErrorClass.BAD_RESPONSE: "The service answered in a way we did not understand. Please try again later.",
}


@dataclass
class CredentialCheck:
    ok: bool
    error_description: str | None  # an issues ErrorDescription value, or None
    message: str  # for the end user; never echoes the credentials


def credentials_validate(
    *, integration: str, credentials: dict[str, Any], tenant: str = ""
) -> CredentialCheck:
    """One real request to the provider with these credentials, for organization `tenant` (its id)."""
    found = integrations.find(integration)
    if found is None:
        return CredentialCheck(False, None, "This integration is not available.")
    missing = found.missing_credentials(credentials)
    if missing:
        labels = [f.label for f in found.credential_fields if f.name in missing]
        return CredentialCheck(False, None, f"Please fill in: {', '.join(labels)}.")
    session = found.session(credentials, tenant=tenant)
    try:
        found.validate(credentials, session)
        result = CredentialCheck(True, None, "Connected.")
    except ProviderError as exc:
        request_log_blame_last(session=session, error_class=exc.error_class)
        result = CredentialCheck(
            False,
            ERROR_DESCRIPTION.get(exc.error_class),
            END_USER_MESSAGE.get(exc.error_class, END_USER_MESSAGE[ErrorClass.BAD_RESPONSE]),
        )
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        logger.exception("credential validation for %s crashed", integration)
        result = CredentialCheck(False, None, END_USER_MESSAGE[ErrorClass.BAD_RESPONSE])
    request_logs_write(entries=session.log, integration=integration)
    return result
