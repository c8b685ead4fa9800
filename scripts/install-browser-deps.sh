#!/usr/bin/env bash
# The JavaScript the browser tests inject into pages: axe-core (the accessibility story in
# tests/server/test_accessibility.py), at the version pinned in tests/browser/package-lock.json,
# into tests/browser/node_modules (ignored by git). Needs node and npm (scripts/system-deps.sh).
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=tests/browser
want=$(node -p "require('./$dir/package-lock.json').packages['node_modules/axe-core'].version")
have=$(node -p "try { require('./$dir/node_modules/axe-core/package.json').version } catch (e) { '' }")
if [ "$have" = "$want" ]; then
    exit 0
fi
npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
test -s "$dir/node_modules/axe-core/axe.min.js"
echo "axe-core $want installed in $dir/node_modules"
