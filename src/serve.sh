#!/bin/sh
# How the server process runs: the one definition, used by the Docker image's CMD, `npm start` and,
# through `npm start`, `npm run bench`. Arguments are more node options (`npm start -- --inspect`).
set -e
cd "$(dirname "$0")/.."

# V8's young generation capped at 2 x 8 MiB (its default grows to 2 x 64 MiB), and the old one
# collected when it has doubled since the last collection (the default lets it grow up to 4x): peak
# memory under load about 1.1x the bench floor's instead of 2-3x, for a few percent of CPU. The same
# in development, so that what a laptop shows is what production gets. Measure with
# `npm run bench` (docs/performance.md) before changing them.
flags='--max-semi-space-size=8 --heap-growing-percent=100'

if [ -f src/index.ts ]; then
  # A checkout: under NODE_ENV=production the compiled dist/, built again first whenever src/
  # changed since it was built; otherwise the TypeScript sources, so that edits take effect at the
  # next start. (src/build.mjs decides, and builds.)
  entry=$(node src/build.mjs --entry)
else
  # The Docker image: the compiled output is all there is.
  entry=dist/index.js
fi

# exec: the server replaces this shell, so SIGTERM and SIGINT reach it and nothing else.
# shellcheck disable=SC2086 # $flags is a list of words
exec node $flags "$@" "$entry"
