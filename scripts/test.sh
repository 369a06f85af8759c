#!/usr/bin/env bash
# The README's test command. Uses REDIS_URL when set, else a private local Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  export REDIS_URL
fi
exec .venv/bin/pytest "$@"
