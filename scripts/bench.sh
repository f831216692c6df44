#!/usr/bin/env bash
# `npm run bench -- --rows N [--runs K] [--restore-runs R] [--no-growth] [--out DIR]`:
# ngcp-backup side by side with mariadb-dump | zstd | age | aws s3 cp and with mydumper, on a
# sandbox node with N cdr rows, against the local Ceph RGW (bench/run.ts; results in
# bench/results/<date>-<N>.md/.json unless --out). Needs what the tests need, plus mydumper.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
bash scripts/ceph-s3-ensure.sh >&2
exec node dist/bench/run.js "$@"
