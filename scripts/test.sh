#!/usr/bin/env bash
# `npm test`: everything the test suite needs, then the whole suite (real MariaDB instances,
# real Ceph RGW, real age and zstd). Extra arguments go to ava (e.g. a file to run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
bash scripts/ceph-s3-ensure.sh >&2
exec npx ava "$@"
