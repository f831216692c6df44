#!/usr/bin/env bash
# Installs what ngcp-backup's demo, tests and benchmark need beyond a fresh machine of this
# kind (Node 20, npm, MariaDB binaries): Debian's age, zstd (and with --tests, which the
# benchmark uses too: Ceph RGW, awscli, mydumper, GNU time), the npm dependencies, and the
# build. Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
want=(age zstd)
if [[ "${1:-}" == "--tests" ]]; then want+=(radosgw ceph-mon ceph-osd ceph aws uuidgen curl mydumper time); fi
missing=()
for cmd in "${want[@]}"; do
  case $cmd in
    ceph) pkg=ceph-common ;; aws) pkg=awscli ;; uuidgen) pkg=uuid-runtime ;; *) pkg=$cmd ;;
  esac
  # Debian's awscli lives in /usr/bin; another aws earlier on PATH does not count.
  if [[ $cmd == aws ]]; then [[ -x /usr/bin/aws ]] || missing+=("$pkg"); continue; fi
  # `time` is also a shell keyword: only GNU time's binary counts.
  if [[ $cmd == time ]]; then [[ -x /usr/bin/time ]] || missing+=("$pkg"); continue; fi
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} from Debian" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
for bin in mariadbd mariadb-install-db mariadb; do
  command -v "$bin" >/dev/null 2>&1 || { echo "setup: $bin is missing (install mariadb-server)" >&2; exit 1; }
done
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc -p tsconfig.json
