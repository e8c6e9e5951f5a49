#!/bin/sh
# How the server process runs: the one definition, used by the Docker image's CMD, `npm start` and,
# through `npm start`, `npm run bench`. Arguments are more node options (`npm start -- --inspect`).
set -e
cd "$(dirname "$0")/.."

# V8's young generation capped at 2 x 16 MiB (its default grows to 2 x 64 MiB), and the old one
# collected when it has grown by half since the last collection (the default lets it grow up to 4x).
# Under the bench's reads (50 connections) scavenges were 15% of the server's CPU with 8 MiB: each
# one copies the in-flight requests' objects, so half as many cost half as much, and fewer of those
# objects live long enough to be promoted into the old generation, which then grows less. Measured
# side by side (docs/performance.md): 16 MiB and 50% gave the most reads per second with peak memory
# at or below 8 MiB and 100%'s. The same in development, so that what a laptop shows is what
# production gets. Measure with `npm run bench` before changing them.
flags='--max-semi-space-size=16 --heap-growing-percent=50'

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
