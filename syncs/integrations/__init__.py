"""One module per provider, all the same shape. `register_all` publishes their catalogue
entries to `accounts.catalog` (the account API reads names and logos from there)."""

from accounts import catalog


def register_all() -> None:
    catalog.register(
        catalog.IntegrationInfo(
            slug="sandbox",
            name="Sandbox HRIS",
            categories=("hris",),
            color="#0EA5E9",
        )
    )
