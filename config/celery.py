"""The Celery app. Every beat schedule lives here, in one place; its intervals are settings
(config/settings.py reads the environment, nothing here does)."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_shutdown

from .broker import register as register_broker_transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
register_broker_transport()

app = Celery("relink")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery closes Django's database connections before and after every task unless this is set
# (celery#9824): a new PostgreSQL backend per task, whose start-up cost more CPU than a sync
# run's own queries. With it, Celery recycles a process's connection only every this many
# tasks, and `_release_connections` below applies Django's own per-request rule instead.
app.conf.CELERY_DB_REUSE_MAX = 1000


@task_postrun.connect
def _release_connections(task=None, state=None, **kwargs) -> None:
    """After each task, what Django does after each request: close connections past
    CONN_MAX_AGE or found broken. A task that did not succeed may have been interrupted inside
    a query (a time limit), which Django cannot tell from a healthy connection: close them."""
    from django.db import close_old_connections, connections

    if task is not None and getattr(task.request, "is_eager", False):
        return  # inside the caller's process and transaction (tests)
    if state == "SUCCESS":
        close_old_connections()
        return
    for connection in connections.all(initialized_only=True):
        connection.close()


@setup_logging.connect
def _django_logging(**_) -> None:
    """Workers and beat log through Django's LOGGING (LOG_FORMAT, token masking, the log-context
    ids) instead of Celery's own handler: connecting this signal stops Celery configuring it."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
def _bind_log_context(task_id=None, task=None, args=None, kwargs=None, **_) -> None:
    """A task's log lines carry its id as the request id, and the linked account it works on
    (the tasks take `account_id`)."""
    from accounts.log_context import log_context_bind, log_context_clear

    log_context_clear()
    account_id = (kwargs or {}).get("account_id")
    if account_id is None and args and task is not None and task.name == "syncs.sync_account":
        account_id = args[0]
    log_context_bind(request_id=task_id, linked_account_id=account_id)


@worker_process_shutdown.connect
def _forget_process_metrics(pid=None, **_) -> None:
    """Prometheus multi-process mode: a pool process that exits leaves no live gauge behind."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid or os.getpid(), path)


@app.on_after_configure.connect
def _beat_schedule(sender, source, **kwargs) -> None:
    """Set once Celery has read Django's settings (this module is imported while they load)."""
    from django.conf import settings

    source.beat_schedule = _schedule(settings)


def _schedule(settings) -> dict:
    return {
        # Entries are added by each app's issue; keep them all in this dict.
        # accounts: store last month's billing once it is over (reads of it then cost one index range).
        "accounts-close-billing-months": {
            "task": "accounts.close_billing_months",
            "schedule": crontab(day_of_month="1-2", hour=2, minute=11),
        },
        # issues: re-queue due webhook deliveries whose send task was lost (broker/worker restart).
        "issues-requeue-due-webhooks": {
            "task": "issues.requeue_due_webhooks",
            "schedule": settings.WEBHOOK_SWEEP_INTERVAL_SECONDS,
        },
        # issues: status-history rows the on-commit listener missed become status_changed/deleted webhooks.
        "issues-process-status-changes": {"task": "issues.process_status_changes", "schedule": 30.0},
        "issues-prune-webhook-deliveries": {
            "task": "issues.prune_webhook_deliveries",
            "schedule": crontab(hour=3, minute=53),
        },
        # syncs: hand out due accounts (one claim query, one message per batch of accounts).
        "syncs-dispatch-due": {
            "task": "syncs.dispatch_due_syncs",
            "schedule": settings.SYNC_DISPATCH_INTERVAL_SECONDS,
        },
        "syncs-recover-expired-runs": {
            "task": "syncs.recover_expired_runs",
            "schedule": settings.SYNC_RECOVER_INTERVAL_SECONDS,
        },
        "syncs-mark-idle-accounts": {"task": "syncs.mark_idle_accounts", "schedule": crontab(minute=17)},
        # syncs: refresh OAuth grants that die unused before they lapse (IDLE accounts too).
        "syncs-oauth-keep-alive": {"task": "syncs.oauth_keep_alive", "schedule": crontab(minute=37)},
        "syncs-prune-request-logs": {
            "task": "syncs.prune_request_logs",
            "schedule": crontab(hour=3, minute=41),
        },
        # linking: relink reminder e-mails (each organization opts in), forget long-expired link tokens.
        "linking-relink-reminders": {
            "task": "linking.relink_reminders_sweep",
            "schedule": crontab(minute=23),
        },
        # linking: warn end users whose OAuth grant ends within CREDENTIALS_EXPIRY_WARNING_DAYS.
        "linking-credentials-expiring": {
            "task": "linking.credentials_expiring_sweep",
            "schedule": crontab(minute="*/15"),
        },
        "linking-purge-link-tokens": {
            "task": "linking.purge_expired_link_tokens",
            "schedule": crontab(hour=4, minute=7),
        },
    }
