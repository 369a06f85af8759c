"""Relink e-mails: the service, the management command, and the reminder job."""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.services import linked_account_mark_relink_needed
from linking.models import LinkToken, RelinkEmail
from linking.relink_emails import relink_email_send, relink_reminders_send
from linking.selectors import relink_emails_for_account
from linking.tasks import relink_reminders_for_organization

pytestmark = pytest.mark.django_db


def link_path(body: str) -> str:
    return re.search(r"http://127\.0\.0\.1:8000(/link/\S+)", body).group(1)


def test_relink_email_carries_a_working_magic_link_and_is_recorded(owner, mailoutbox, django_user_model):
    operator = django_user_model.objects.create_user("ops", password="long-enough-1")
    account, _ = owner.linked_account(origin_id="mail-1")
    linked_account_mark_relink_needed(account=account, reason="401")
    record = relink_email_send(account=account, sent_by=operator)

    [mail] = mailoutbox
    assert mail.to == ["mail-1@example.com"]
    assert "Reconnect Sandbox HRIS" in mail.subject
    assert "sk_sandbox" not in mail.body  # the old credentials are never mailed
    page = Client().get(link_path(mail.body))
    assert page.status_code == 200 and "Reconnect Sandbox HRIS" in page.content.decode()

    assert record.to_address == "mail-1@example.com" and record.sent_by == operator
    assert record.kind == "MANUAL" and record.link_token.linked_account == account
    assert timedelta(days=6) < record.link_expires_at - timezone.now() <= timedelta(days=7)
    assert list(relink_emails_for_account(account=account)) == [record]


def test_mail_server_failure_records_nothing(owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    account, _ = owner.linked_account(origin_id="mail-2")
    with pytest.raises(OSError):
        relink_email_send(account=account)
    assert not RelinkEmail.objects.exists()
    assert not LinkToken.objects.exists()


def test_send_relink_email_command(owner, mailoutbox):
    account, _ = owner.linked_account(origin_id="mail-3")
    out = StringIO()
    call_command("send_relink_email", str(account.id), stdout=out)
    assert "mail-3@example.com" in out.getvalue()
    assert len(mailoutbox) == 1 and RelinkEmail.objects.filter(linked_account=account).count() == 1
    with pytest.raises(CommandError, match="not a linked-account id"):
        call_command("send_relink_email", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="No linked account"):
        call_command("send_relink_email", "00000000-0000-7000-8000-000000000000", stdout=StringIO())


def test_reminders_are_off_by_default_then_follow_the_organizations_schedule(owner, outsider, mailoutbox):
    account, _ = owner.linked_account(origin_id="remind-1")
    healthy, _ = owner.linked_account(origin_id="remind-ok")
    other, _ = outsider.linked_account(origin_id="remind-x")
    start = timezone.now()
    linked_account_mark_relink_needed(account=account, reason="401")
    linked_account_mark_relink_needed(account=other, reason="401")
    assert owner.organization.relink_reminder_days is None

    with time_machine.travel(start + timedelta(days=10)):
        assert relink_reminders_send(organization=owner.organization) == 0
        owner.organization.relink_reminder_days = 3
        owner.organization.save()
        assert relink_reminders_for_organization(str(owner.organization.id)) == 1
        assert relink_reminders_send(organization=owner.organization) == 0  # not twice
    with time_machine.travel(start + timedelta(days=12)):
        assert relink_reminders_send(organization=owner.organization) == 0
    with time_machine.travel(start + timedelta(days=13, hours=1)):
        assert relink_reminders_send(organization=owner.organization) == 1
    assert [m.to for m in mailoutbox] == [["remind-1@example.com"]] * 2
    assert set(RelinkEmail.objects.values_list("kind", flat=True)) == {"REMINDER"}
    assert not RelinkEmail.objects.filter(linked_account__in=[healthy, other]).exists()


def test_reminder_waits_until_the_account_stayed_broken_long_enough(owner, mailoutbox):
    owner.organization.relink_reminder_days = 2
    owner.organization.save()
    account, _ = owner.linked_account(origin_id="remind-2")
    linked_account_mark_relink_needed(account=account, reason="401")
    assert relink_reminders_send(organization=owner.organization) == 0
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        assert relink_reminders_send(organization=owner.organization) == 1
