"""Celery tasks of the accounts app: each calls one service."""

from celery import shared_task

from .billing_months import billing_months_close_previous


@shared_task(name="accounts.close_billing_months", soft_time_limit=1800, time_limit=1900)
def close_billing_months() -> int:
    """Store last month's billing for every organization (a closed month never changes)."""
    return billing_months_close_previous()
