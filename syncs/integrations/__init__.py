"""One module per provider, all the same shape (see base.py for how to add one).

`register_all` publishes their catalogue entries to `accounts.catalog` (the account API and the
link page read names, logos and credential fields from there)."""

from accounts import catalog

from .bamboohr import BambooHRIntegration
from .base import CredentialField, Integration, ProviderError  # noqa: F401
from .deel import DeelIntegration
from .greenhouse import GreenhouseIntegration
from .gusto import GustoIntegration
from .hibob import HiBobIntegration
from .hubspot import HubSpotIntegration
from .sandbox import SandboxIntegration
from .sandbox_ats import SandboxAtsIntegration
from .sandbox_crm import SandboxCrmIntegration
from .sandbox_oauth import SandboxOAuthIntegration

# Provider modules add their class here.
INTEGRATIONS: list[type[Integration]] = [
    SandboxIntegration,
    SandboxAtsIntegration,
    SandboxCrmIntegration,
    BambooHRIntegration,
    HiBobIntegration,
    GreenhouseIntegration,
    HubSpotIntegration,
    SandboxOAuthIntegration,
    GustoIntegration,
    DeelIntegration,
]

_instances: dict[str, Integration] = {}


def _load() -> dict[str, Integration]:
    if not _instances:
        for cls in INTEGRATIONS:
            _instances[cls.slug] = cls()
    return _instances


def get(slug: str) -> Integration:
    """The integration for a slug; KeyError for an unknown one."""
    return _load()[slug]


def slugs() -> list[str]:
    """Every registered integration's slug."""
    return list(_load())


def find(slug: str) -> Integration | None:
    return _load().get(slug)


def all_integrations() -> list[Integration]:
    return sorted(_load().values(), key=lambda i: i.name.lower())


def register_all() -> None:
    for integration in _load().values():
        catalog.register(
            catalog.IntegrationInfo(
                slug=integration.slug,
                name=integration.name,
                categories=tuple(integration.categories),
                image=integration.image,
                square_image=integration.square_image,
                color=integration.color,
                credential_fields=tuple(integration.credential_fields),
                test_only=integration.test_only,
                auth_type=str(integration.auth_type),
            )
        )
