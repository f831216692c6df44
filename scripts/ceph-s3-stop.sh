#!/bin/bash
# Stop the daemons started by ceph-s3-start.sh, by their PID files only (never by name: other
# Ceph daemons on the machine are none of our business). Leaves DIR in place.
# Usage: scripts/ceph-s3-stop.sh [DIR]      (default ${TMPDIR:-/tmp}/ngcp-backup-ceph)
DIR=${1:-${TMPDIR:-/tmp}/ngcp-backup-ceph}
for n in client.rgw.a osd.0 mon.a; do
  f="$DIR/run/$n.pid"; [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do   # wait until gone (or a zombie, harmless in a container)
      st=$(ps -o stat= -p "$pid" 2>/dev/null) || break
      [[ $st == Z* ]] && break; sleep 0.1
    done
    if ps -o stat= -p "$pid" 2>/dev/null | grep -qv '^Z'; then kill -9 "$pid" 2>/dev/null; fi
  fi
  rm -f "$f"
done
