#!/usr/bin/env bash
# Start the web server, a Celery worker and beat; stop them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  echo "Started a local Redis at $REDIS_URL (REDIS_URL unset)"
fi
export REDIS_URL
mkdir -p .run
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# The sandbox HRIS provider: a real HTTP service the sandbox integration syncs from.
# SANDBOX_PROVIDER_URL says where (default http://127.0.0.1:8765); a busy port gets a free one.
if [ -z "${SANDBOX_PROVIDER_URL:-}" ]; then
  SANDBOX_PROVIDER_URL="$(.venv/bin/python -c 'import socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 8765)); print("http://127.0.0.1:8765")
except OSError:
    s.bind(("127.0.0.1", 0)); print(f"http://127.0.0.1:{s.getsockname()[1]}")')"
fi
export SANDBOX_PROVIDER_URL
.venv/bin/python manage.py sandbox_provider &
pids+=($!)
echo "Sandbox provider on $SANDBOX_PROVIDER_URL"
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule=.run/celerybeat-schedule &
pids+=($!)
.venv/bin/gunicorn config.wsgi -c config/gunicorn.conf.py --bind "127.0.0.1:${PORT}" --access-logfile - &
pids+=($!)
echo "Relink is starting on http://127.0.0.1:${PORT}  (Ctrl-C stops web, worker and beat)"
wait -n
