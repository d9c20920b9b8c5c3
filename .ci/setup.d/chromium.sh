#!/usr/bin/env bash
# Headless Chromium for the runner's report rendering test (it opens report.html and checks the charts drew).
# Debian's `chromium` package; Ubuntu's is `chromium-browser`. Skipped when a browser is already installed.
set -euo pipefail
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "chromium: found $candidate ($("$candidate" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
  fi
done
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium ||
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium-browser
command -v chromium || command -v chromium-browser
