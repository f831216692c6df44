#!/usr/bin/env bash
# `npm run demo`: a sandbox NGCP node (scratch MariaDB + node files) backed up to a file://
# repository, listed and verified; prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/testkit/demo.js "$@"
