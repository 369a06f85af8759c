import json as jsonlib
import uuid

from django.core.management.base import BaseCommand, CommandError

from issues.models import WebhookEndpoint
from issues.webhooks.endpoints import webhook_endpoint_rotate_key


class Command(BaseCommand):
    help = "Give a webhook endpoint a new signature key (every later attempt is signed with it) and print it."

    def add_arguments(self, parser):
        parser.add_argument("endpoint_id")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object {endpoint_id, signature_key}."
        )

    def handle(self, *args, endpoint_id, json: bool, **options):
        try:
            endpoint = WebhookEndpoint.objects.get(pk=uuid.UUID(endpoint_id))
        except (ValueError, WebhookEndpoint.DoesNotExist):
            raise CommandError(f"No webhook endpoint with id {endpoint_id!r}.")
        key = webhook_endpoint_rotate_key(endpoint=endpoint)
        if json:
            self.stdout.write(jsonlib.dumps({"endpoint_id": str(endpoint.id), "signature_key": key}))
        else:
            self.stdout.write(f"New signature key: {key}")
