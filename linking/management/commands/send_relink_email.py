import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import LinkedAccount
from linking.relink_emails import relink_email_send


class Command(BaseCommand):
    help = "E-mail the end user of a linked account a fresh magic link to reconnect it."

    def add_arguments(self, parser):
        parser.add_argument("account_id", help="The linked account's id (a UUID)")

    def handle(self, *args, **options):
        try:
            account_id = uuid.UUID(options["account_id"])
        except ValueError:
            raise CommandError(f"'{options['account_id']}' is not a linked-account id (a UUID).")
        account = LinkedAccount.objects.select_related("organization").filter(pk=account_id).first()
        if account is None:
            raise CommandError(f"No linked account {account_id}.")
        try:
            record = relink_email_send(account=account)
        except ValueError as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            f"Sent a relink e-mail to {record.to_address} (link valid until {record.link_expires_at:%Y-%m-%d %H:%M} UTC)."
        )
