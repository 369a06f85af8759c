#!/usr/bin/env bash
# Start the web server, a Celery worker and beat; stop them all on Ctrl-C (and the local Redis,
# when this script started it).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
own_redis=0
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  own_redis=1
  echo "Started a local Redis at $REDIS_URL (REDIS_URL unset; stopped again on exit)"
fi
export REDIS_URL
mkdir -p .run
# Prometheus multi-process mode: web, worker and beat write their samples here; /metrics adds
# them up. Emptied at each start (the counters of a previous run are not this run's).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/.run/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# A scrape token for the local /metrics, kept in .env (git-ignored) like the other local secrets.
if [ -z "${METRICS_TOKEN:-}" ] && [ -f .env ] && ! grep -q '^METRICS_TOKEN=' .env; then
  echo "METRICS_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env
fi
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$own_redis" = 1 ]; then
    .venv/bin/python scripts/local_redis.py stop
    echo "Stopped the local Redis"
  fi
}
trap cleanup INT TERM EXIT

# The demo (idempotent), once Redis is up: its webhook deliveries and syncs queue real tasks.
.venv/bin/python manage.py seed_demo

# The sandbox HRIS provider: a real HTTP service the sandbox integration syncs from.
# SANDBOX_PROVIDER_URL says where (default http://127.0.0.1:8765). Unset, the provider binds 8765
# or, when that is busy, a port the system picks, and writes the URL it bound to a file: the web
# server and worker get that URL, so no other process can take the port in between.
url_file=".run/sandbox-provider-url"
rm -f "$url_file"
if [ -z "${SANDBOX_PROVIDER_URL:-}" ]; then
  SANDBOX_PROVIDER_URL="http://127.0.0.1:8765" .venv/bin/python manage.py sandbox_provider \
    --any-port-if-busy --url-file "$url_file" &
else
  .venv/bin/python manage.py sandbox_provider --url-file "$url_file" &
fi
pids+=($!)
for _ in $(seq 300); do
  [ -s "$url_file" ] && break
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "The sandbox provider did not start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$url_file" ] || { echo "The sandbox provider did not start in 30 s" >&2; exit 1; }
SANDBOX_PROVIDER_URL="$(cat "$url_file")"
export SANDBOX_PROVIDER_URL
echo "Sandbox provider on $SANDBOX_PROVIDER_URL"
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule=.run/celerybeat-schedule &
pids+=($!)
.venv/bin/gunicorn config.wsgi -c config/gunicorn.conf.py --bind "127.0.0.1:${PORT}" --access-logfile - &
pids+=($!)
echo "Relink is starting on http://127.0.0.1:${PORT}  (Ctrl-C stops web, worker and beat)"
echo "  health: /healthz, /readyz   metrics: curl -H \"Authorization: Bearer \$METRICS_TOKEN\" http://127.0.0.1:${PORT}/metrics  (METRICS_TOKEN in .env)"
wait -n
