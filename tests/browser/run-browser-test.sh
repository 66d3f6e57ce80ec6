#!/bin/sh
# Installs the pinned playwright-core from package-lock.json (never a browser: the test
# uses Debian's /usr/bin/chromium) and runs the browser test of the citizen pages.
# The pin is playwright-core 1.61.1, the last release whose engines field accepts Node.js
# 18, because Debian 12's nodejs is 18.20.4. The releases from 1.62.0 on require Node.js 20.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "run-browser-test: node and npm are missing; run tools/install-deps" >&2
    exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "run-browser-test: /usr/bin/chromium is missing; run tools/install-deps" >&2
    exit 1
fi

# npm ci only when the installed tree is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

exec node "$here/pages.test.mjs"
