"""Putting deliveries on the task queue: WEBHOOK_SEND_BATCH_SIZE ids a message, and the ids a
transaction emits sent together when it commits."""

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def queue_sends(delivery_ids: list[str], countdown: float | None = None) -> None:
    """Put send tasks on the queue, WEBHOOK_SEND_BATCH_SIZE ids a message. A broker outage is
    logged, not raised: the rows are in the database and the sweep queues them again."""
    from issues import tasks  # here, not at the top: the tasks import these services

    size = max(1, settings.WEBHOOK_SEND_BATCH_SIZE)
    for start in range(0, len(delivery_ids), size):
        chunk = delivery_ids[start : start + size]
        try:
            tasks.deliver_webhooks.apply_async(args=[chunk], countdown=countdown or None)
        except Exception:
            logger.warning("could not queue %d webhook deliveries; the sweep will retry", len(chunk))


class _SendsOnCommit:
    """The deliveries that the current transaction queues, sent as few messages when it commits:
    one transaction that emits many events (the status-history consumer, a bulk action) makes
    a handful of task messages, not one per delivery."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self) -> None:
        queue_sends(self.ids)


def queue_sends_on_commit(delivery_ids: list[str]) -> None:
    """Queue these deliveries when the current transaction commits (at once outside one)."""
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        # Join the batch already waiting on this transaction's commit, if it is still there (a
        # rolled-back savepoint takes its hooks with it; ids of rolled-back rows in a batch only
        # make the task find nothing to claim for them).
        for _savepoints, hook, _robust in conn.run_on_commit:
            if isinstance(hook, _SendsOnCommit):
                hook.ids.extend(delivery_ids)
                return
        batch = _SendsOnCommit()
        batch.ids.extend(delivery_ids)
        transaction.on_commit(batch)
    else:
        queue_sends(delivery_ids)
