"""Gunicorn settings for every way the web server starts (the Procfile, `make run`, the load
drill): `gunicorn -c config/gunicorn.conf.py`. Flags on the command line override them.
Gunicorn reads this file before any Django code loads, so it reads its own few variables, with
django-environ like config/settings.py."""

import os

import environ

env = environ.Env()

wsgi_app = "config.wsgi"
# Processes use the cores (the GIL runs one thread of a process at a time); a few threads in each
# overlap the waits on PostgreSQL and Redis, and let a short request pass a long one. gthread
# also keeps connections open between requests, which the sync worker cannot.
worker_class = "gthread"
workers = env.int("WEB_CONCURRENCY", default=(os.cpu_count() or 1) + 1)
threads = env.int("WEB_THREADS", default=4)
# API clients reuse connections: keep an idle one open this long (behind a load balancer, set
# it above the balancer's idle timeout, so that it never sends on a connection we just closed).
keepalive = env.int("WEB_KEEPALIVE_SECONDS", default=30)

# Access-log lines name request paths, and /link/lt_… paths are live link tokens: mask them.
from config.redaction import gunicorn_logger_class  # noqa: E402

logger_class = gunicorn_logger_class()

# No access-log line for health probes and scrapes; X-Request-ID ties a line to the request's own
# log lines.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'
)


def on_starting(server):
    import logging

    from config.logging import AccessLogFilter

    logging.getLogger("gunicorn.access").addFilter(AccessLogFilter())
    # Prometheus multi-process mode: every worker writes into this directory (scripts/run.sh and
    # the Procfile set it; it must exist before the workers start).
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    """A worker exited (recycled after --max-requests, or crashed): drop its live gauges."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.pid, path)
