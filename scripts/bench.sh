#!/usr/bin/env bash
# `make bench`: PostgreSQL (DATABASE_URL, default the local server's relink_bench) and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  export REDIS_URL
fi
exec .venv/bin/python -m bench "$@"
