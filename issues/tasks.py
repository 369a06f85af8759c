"""Celery tasks: each takes ids, and calls one service. Idempotent: a second run finds nothing
to claim."""

import uuid

from celery import shared_task

from .webhooks.delivery import webhook_deliveries_send
from .webhooks.outbox import status_changes_process
from .webhooks.sweeps import webhook_deliveries_prune, webhook_deliveries_requeue_due


@shared_task(
    name="issues.deliver_webhooks", acks_late=True, soft_time_limit=60, time_limit=90, ignore_result=True
)
def deliver_webhooks(delivery_ids: list[str]) -> None:
    webhook_deliveries_send(delivery_ids=[uuid.UUID(i) for i in delivery_ids])


@shared_task(name="issues.requeue_due_webhooks", soft_time_limit=60, time_limit=90, ignore_result=True)
def requeue_due_webhooks() -> None:
    webhook_deliveries_requeue_due()


@shared_task(name="issues.process_status_changes", soft_time_limit=60, time_limit=90, ignore_result=True)
def process_status_changes() -> None:
    # Drain the backlog in bounded transactions.
    for _ in range(20):
        if status_changes_process(limit=500) < 500:
            break


@shared_task(name="issues.prune_webhook_deliveries", soft_time_limit=600, time_limit=660, ignore_result=True)
def prune_webhook_deliveries() -> None:
    webhook_deliveries_prune()
