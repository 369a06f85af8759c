import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.services import membership_add


class Command(BaseCommand):
    help = "Create (or update) a dashboard operator login and make it a member of organizations."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Prompted for when omitted and a terminal is attached.")
        parser.add_argument(
            "--organization", action="append", default=[], help="Organization id (repeatable)."
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="Also allow the Django admin (staff + superuser). Without it the login reaches the dashboard only.",
        )

    def handle(self, *args, username, email, password, organization, superuser, **options):
        if not password:
            if not self.stdin_isatty():
                raise CommandError("--password is required when no terminal is attached.")
            password = getpass.getpass("Password: ")
        organizations = []
        for org_id in organization:
            try:
                organizations.append(Organization.objects.get(pk=org_id))
            except (Organization.DoesNotExist, ValueError, ValidationError):
                raise CommandError(f"No organization with id {org_id!r}.")
        User = get_user_model()
        user = User.objects.filter(username=username).first() or User(username=username, email=email)
        user.email = email or user.email
        try:
            # Every validator of AUTH_PASSWORD_VALIDATORS, including similarity to the username/e-mail.
            validate_password(password, user=user)
        except ValidationError as exc:
            raise CommandError("The password is not accepted: " + " ".join(exc.messages))
        # The admin is for superusers only: an operator's password must not open it.
        user.is_superuser = user.is_superuser or superuser
        user.is_staff = user.is_superuser
        user.set_password(password)
        user.save()
        for org in organizations:
            membership_add(user=user, organization=org)
        self.stdout.write(f"Operator {username} ready ({len(organizations)} organization(s)).")

    def stdin_isatty(self) -> bool:
        import sys

        return sys.stdin.isatty()
