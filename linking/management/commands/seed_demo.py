"""Seed a demo for `make run`: an operator login, an organization with keys, and sandbox linked
accounts in every status. Idempotent: a second run only prints the login again."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.models import AccountType, Organization
from accounts.services import (
    linked_account_create,
    linked_account_mark_complete,
    linked_account_mark_idle,
    linked_account_mark_relink_needed,
    membership_add,
    organization_create,
)

DEMO_ORG = "Demo Co"
DEMO_USER = "demo"
DEMO_PASSWORD = "relink-demo-password"


class Command(BaseCommand):
    help = "Seed the local demo (idempotent)."

    def handle(self, *args, **options):
        port = os.environ.get("PORT", "8000")
        organization = Organization.objects.filter(name=DEMO_ORG).first()
        if organization is None:
            organization, production_key, test_key = organization_create(name=DEMO_ORG)
            self._seed_accounts(organization)
            self.stdout.write(f"Demo organization {organization.id}")
            self.stdout.write(f"  production API key: {production_key}")
            self.stdout.write(
                f"  test API key:       {test_key}   (shown once; create more with create_organization)"
            )
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        membership_add(user=user, organization=organization)
        self.stdout.write(f"Log in at http://127.0.0.1:{port}/ as {DEMO_USER} / {DEMO_PASSWORD}")

    def _seed_accounts(self, organization):
        people = [
            ("acme-001", "Acme Corp", "it@acme.example", "COMPLETE"),
            ("globex-002", "Globex", "hr@globex.example", "RELINK_NEEDED"),
            ("initech-003", "Initech", "ops@initech.example", "IDLE"),
            ("umbrella-004", "Umbrella", "people@umbrella.example", "INCOMPLETE"),
        ]
        for origin_id, org_name, email, target in people:
            for account_type in (AccountType.PRODUCTION, AccountType.TEST):
                account, _ = linked_account_create(
                    organization=organization,
                    category="hris",
                    integration="sandbox",
                    end_user_origin_id=origin_id,
                    end_user_organization_name=org_name,
                    end_user_email_address=email,
                    account_type=account_type,
                    credentials={"api_key": f"sk_sandbox_{origin_id}"},
                )
                if target != "INCOMPLETE":
                    linked_account_mark_complete(account=account, reason="Demo link")
                if target == "RELINK_NEEDED":
                    linked_account_mark_relink_needed(
                        account=account, reason="Demo: the provider rejected the API key"
                    )
                if target == "IDLE":
                    linked_account_mark_idle(account=account, reason="Demo: no API requests for 14 days")
