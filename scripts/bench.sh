#!/usr/bin/env bash
# `npm run bench -- --rows N`: peak RSS of a backup at N and 10N cdr rows (bench/rss.ts).
# The side-by-side benchmark against mariadb-dump and mydumper (the benchmark issue) replaces it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/bench/rss.js "$@"
