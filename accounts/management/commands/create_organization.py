import json

from django.core.management.base import BaseCommand, CommandError

from accounts.services import organization_create


class Command(BaseCommand):
    help = "Create an organization and print its id and first production and test API keys (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")

    def handle(self, *args, name: str, json: bool = False, **options):  # noqa: A002
        name = name.strip()
        if not name:
            raise CommandError("The organization name must not be empty.")
        organization, production_key, test_key = organization_create(name=name)
        if json:
            self.stdout.write(_dumps(organization.id, production_key, test_key))
            return
        self.stdout.write(f"Organization: {organization.name} ({organization.id})")
        self.stdout.write(f"Production API key: {production_key}")
        self.stdout.write(f"Test API key:       {test_key}")
        self.stdout.write("Store these keys now: they are not shown again.")


def _dumps(organization_id, production_key: str, test_key: str) -> str:
    return json.dumps(
        {
            "organization_id": str(organization_id),
            "production_api_key": production_key,
            "test_api_key": test_key,
        }
    )
