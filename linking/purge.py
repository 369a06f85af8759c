"""Retention of the link flow: link tokens that expired long ago are forgotten."""

from datetime import timedelta

from django.utils import timezone

from .models import LinkToken


def link_tokens_purge(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget link tokens that expired long ago (their accounts and e-mail records stay)."""
    cutoff = timezone.now() - older_than
    deleted, _ = LinkToken.objects.filter(expires_at__lt=cutoff).delete()
