import json as jsonlib
import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from issues.webhooks.endpoints import ALL_EVENTS, webhook_endpoint_create


class Command(BaseCommand):
    help = (
        "Register a webhook endpoint for an organization and print its id and signature key. "
        f"Events (default: all): {', '.join(ALL_EVENTS)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization_id")
        parser.add_argument("url")
        parser.add_argument(
            "--events",
            nargs="+",
            default=None,
            help="Event names, space- or comma-separated (default: every event).",
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--disabled", action="store_true", help="Register it switched off.")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object {endpoint_id, signature_key}."
        )

    def handle(self, *args, organization_id, url, events, description, disabled, json: bool, **options):
        try:
            organization = Organization.objects.get(pk=uuid.UUID(organization_id))
        except (ValueError, Organization.DoesNotExist):
            raise CommandError(f"No organization with id {organization_id!r}.")
        names = None
        if events is not None:
            names = [name for item in events for name in item.split(",") if name.strip()]
            if not names:
                raise CommandError("--events needs at least one event name.")
        try:
            endpoint, key = webhook_endpoint_create(
                organization=organization,
                url=url,
                events=names,
                enabled=not disabled,
                description=description,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages))
        if json:
            self.stdout.write(_dumps({"endpoint_id": str(endpoint.id), "signature_key": key}))
        else:
            self.stdout.write(f"Endpoint id: {endpoint.id}")
            self.stdout.write(f"Signature key: {key}")
            self.stdout.write(f"Events: {', '.join(endpoint.events)}")


def _dumps(value) -> str:
    return jsonlib.dumps(value)
