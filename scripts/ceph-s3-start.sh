#!/bin/bash
# A real S3-compatible store for tests and CI: a one-node Ceph (one monitor, one OSD) and
# radosgw on http://127.0.0.1:${RGW_PORT:-7480}, from Debian's packages. Everything listens on
# 127.0.0.1 only and cephx is off: this is a test fixture, never a place for real backups.
#
# Usage: scripts/ceph-s3-start.sh [DIR]      DIR is wiped (default ${TMPDIR:-/tmp}/ngcp-backup-ceph)
# Env:   RGW_PORT (7480), MON_PORT (3300), OSD_BACKEND (memstore | bluestore; default memstore),
#        ACCESS_KEY (testaccesskey), SECRET_KEY (testsecretkey)
# Measured (2 cores): memstore ~1.4 s to a working gateway, bluestore ~6 s; plus apt if needed.
# Stop:  scripts/ceph-s3-stop.sh [DIR]
# Most callers want scripts/ceph-s3-ensure.sh, which reuses a running gateway.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-${TMPDIR:-/tmp}/ngcp-backup-ceph}
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-3300}
# memstore keeps objects in RAM (bounded by MEMSTORE_BYTES): it starts faster than bluestore and
# needs no 20 GiB sparse file; test data is deleted after each test, so RAM use stays small.
# 12 GiB: `npm run bench -- --rows 2000000` keeps about 4 GiB there at its peak (three
# snapshots and three baseline dumps, then the 4N snapshot); a full memstore OSD does not
# fail writes, it blocks them (and deletes) until space is freed (HEALTH_ERR "full osd").
OSD_BACKEND=${OSD_BACKEND:-memstore}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-12884901888}
ACCESS_KEY=${ACCESS_KEY:-testaccesskey}
SECRET_KEY=${SECRET_KEY:-testsecretkey}
T0=$(date +%s%N)
ts() { echo "[ceph-s3 $(( ($(date +%s%N) - T0) / 1000000 )) ms] $*" >&2; }
fail() { echo "ceph-s3-start: $*" >&2; echo "logs: $DIR/log/" >&2; exit 1; }

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null \
   || ! command -v ceph-osd >/dev/null || ! command -v ceph >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "radosgw/ceph-mon/ceph-osd/ceph missing; install as root:
  apt-get install ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl"
  # Another apt may be running (e.g. a provisioning step): wait for it rather than fail.
  while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do sleep 2; done
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl
  ts "packages installed"
fi

# A previous instance in DIR must be stopped before its data is wiped under it.
[ -d "$DIR/run" ] && "$HERE/ceph-s3-stop.sh" "$DIR"
rm -rf "$DIR"; mkdir -p "$DIR"/{mon,osd,rgw,log,run}
chmod 700 "$DIR"
FSID=$(uuidgen); OSD_UUID=$(uuidgen)
cat > "$DIR/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
# Without these, with cephx off, radosgw hangs at start.
ms mon client mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
osd crush chooseleaf type = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# The monitor batches map changes for 1 s by default; radosgw's first start makes ~10 of them
# (pools), one after another. Proposing at once takes the start from ~13 s to a few seconds.
paxos propose interval = 0.01
paxos min wait = 0.001
osd objectstore = $OSD_BACKEND
osd memory target = 939524096
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false
memstore device bytes = $MEMSTORE_BYTES
[mon.a]
mon data = $DIR/mon
[osd.0]
osd data = $DIR/osd
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw dns name = localhost
rgw thread pool size = 64
CONF
export CEPH_CONF=$DIR/ceph.conf

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon --id a --mkfs --monmap "$DIR/monmap" --keyring /dev/null
# Daemons get /dev/null for stdio (they log to $DIR/log), so a caller's pipe (`npm test | tee`)
# is not held open by them after this script exits.
ceph-mon --id a </dev/null >>"$DIR/log/daemons.out" 2>&1
ts "mon started"
ceph -s --connect-timeout 30 >/dev/null || fail "monitor did not answer"
ts "mon answering"

ceph osd new "$OSD_UUID" >/dev/null
ceph-osd --id 0 --mkfs --osd-uuid "$OSD_UUID" --no-mon-config >>"$DIR/log/osd-mkfs.log" 2>&1
ceph-osd --id 0 </dev/null >>"$DIR/log/daemons.out" 2>&1
ts "osd started ($OSD_BACKEND)"
for _ in $(seq 1 300); do
  ceph osd dump 2>/dev/null | grep -q '^osd.0 up' && break; sleep 0.2
done
ceph osd dump | grep -q '^osd.0 up' || fail "OSD did not come up"
ts "osd up"

timeout 120 radosgw --id rgw.a </dev/null >>"$DIR/log/daemons.out" 2>&1
for _ in $(seq 1 600); do
  curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/" || fail "radosgw did not answer on 127.0.0.1:$RGW_PORT"
ts "radosgw answering on 127.0.0.1:$RGW_PORT"

radosgw-admin user create --uid=test --display-name=test \
   --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
ts "user created (access key $ACCESS_KEY)"
echo "PIDs: mon=$(cat "$DIR/run/mon.a.pid") osd=$(cat "$DIR/run/osd.0.pid") rgw=$(cat "$DIR/run/client.rgw.a.pid")" >&2
