#!/usr/bin/env bash
# The fault drills (tests/faults, marker `faults`) against PostgreSQL: each drill starts its own
# private redis-server, gunicorn, Celery worker + beat and sandbox provider, breaks one of them,
# and checks that nothing is lost. DATABASE_URL defaults to the local server's relink_faults.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/relink_faults}"
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  export REDIS_URL
fi
exec .venv/bin/pytest tests/faults -m faults -v "$@"
