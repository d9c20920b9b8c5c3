#!/usr/bin/env bash
# Redis for the runner's job-queue tests (they start their own redis-server on 127.0.0.1 and a free port).
# Debian's `redis-server` package; skipped when a redis-server is already installed. Without it those tests report
# SKIPPED with the reason.
set -euo pipefail
for candidate in "${REDIS_SERVER:-}" "$(command -v redis-server || true)" /usr/bin/redis-server; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "redis: found $candidate ($("$candidate" --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
    exit 0
  fi
done
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# --no-install-recommends: the package's service set-up is not needed (the tests start their own server).
"${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server
command -v redis-server
