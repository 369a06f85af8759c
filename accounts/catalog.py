"""The integration catalogue as the account API shows it.

`accounts` is the ground floor and imports no other app, so the integrations (which live in
`syncs/integrations/`) register their public metadata here when their app is ready.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IntegrationInfo:
    slug: str
    name: str
    categories: tuple[str, ...]
    image: str = ""
    square_image: str = ""
    color: str = "#4F46E5"
    passthrough_available: bool = False
    credential_fields: tuple = field(default_factory=tuple)
    # A sandbox: offered to and usable by test link tokens only (never production accounts).
    test_only: bool = False
    # How the end user authorizes: API_KEY, BASIC or OAUTH2 (the link page shows a form or a
    # "Continue with …" button).
    auth_type: str = "API_KEY"

    def as_api(self) -> dict:
        return {
            "name": self.name,
            "slug": self.slug,
            "categories": list(self.categories),
            # Merge types both as strings: "" when there is no image, never null.
            "image": self.image,
            "square_image": self.square_image,
            "color": self.color,
            "passthrough_available": self.passthrough_available,
            "auth_type": self.auth_type,
        }


_REGISTRY: dict[str, IntegrationInfo] = {}


def register(info: IntegrationInfo) -> None:
    _REGISTRY[info.slug] = info


def get(slug: str) -> IntegrationInfo:
    info = _REGISTRY.get(slug)
    if info is None:
        # An account whose integration module was removed still renders.
        return IntegrationInfo(slug=slug, name=slug, categories=())
    return info


def all_integrations() -> list[IntegrationInfo]:
    return sorted(_REGISTRY.values(), key=lambda i: i.name.lower())


def slugs_for_name(name: str) -> list[str]:
    wanted = name.strip().lower()
    return [i.slug for i in _REGISTRY.values() if i.name.lower() == wanted or i.slug == wanted]
