#!/usr/bin/env bash
# Print the path of a Chromium for the UI tests (CHROMIUM_PATH, else Debian's), or fail.
set -euo pipefail
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    echo "$candidate"
    exit 0
  fi
done
exit 1
