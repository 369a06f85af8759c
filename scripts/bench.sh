#!/usr/bin/env bash
# `make bench`: PostgreSQL (DATABASE_URL, default the local server's relink_bench) and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(.venv/bin/python scripts/local_redis.py start)"
  export REDIS_URL
fi
# Scenarios hammer one key/token far past the production limits: keep the limiter (its Redis
# round trip is part of every request's cost) but raise the limits so it never answers 429.
export RATE_LIMIT_ACCOUNT_REQUESTS="${RATE_LIMIT_ACCOUNT_REQUESTS:-100000000}"
export RATE_LIMIT_KEY_REQUESTS="${RATE_LIMIT_KEY_REQUESTS:-100000000}"
# Likewise the link page's credential checks per address (linking_flow finishes hundreds of links).
export LINK_ATTEMPTS_PER_IP="${LINK_ATTEMPTS_PER_IP:-100000000}"
exec .venv/bin/python -m bench "$@"
