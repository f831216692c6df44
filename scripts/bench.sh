#!/usr/bin/env bash
# `npm run bench -- --rows N`: see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
bash scripts/ceph-s3-ensure.sh >&2
exec node dist/bench/run.js "$@"
