#!/bin/bash
# Make sure a test S3 gateway answers on http://127.0.0.1:${RGW_PORT:-7480} with the test
# credentials. Returns at once when one does; otherwise starts one (ceph-s3-start.sh, which
# installs the packages if needed) in a fixed directory, so later runs reuse it.
#
# Usage: scripts/ceph-s3-ensure.sh [DIR]     (default ${TMPDIR:-/tmp}/ngcp-backup-ceph)
# Env:   RGW_PORT, MON_PORT, ACCESS_KEY, SECRET_KEY, OSD_BACKEND as for ceph-s3-start.sh
# Warm (a gateway answers): ~10 ms. Cold: ~1.5 s (memstore), plus apt-get when not installed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-${TMPDIR:-/tmp}/ngcp-backup-ceph}
RGW_PORT=${RGW_PORT:-7480}
ACCESS_KEY=${ACCESS_KEY:-testaccesskey}
SECRET_KEY=${SECRET_KEY:-testsecretkey}
URL="http://127.0.0.1:$RGW_PORT/"

# 0: answers and accepts the credentials; 1: nothing answers; 2: answers but refuses them.
# The secret goes to curl on stdin (a config file), not on its command line. radosgw rejects a
# SigV4 request without x-amz-content-sha256 (SignatureDoesNotMatch), and curl 7.88 does not
# add it, so it is given here (the sha256 of the empty body).
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
probe() {
  local code
  code=$(printf 'user = "%s:%s"\n' "$ACCESS_KEY" "$SECRET_KEY" |
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -K - \
         --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: $EMPTY_SHA256" \
         "$URL") || code=000
  case "$code" in
    200) return 0 ;;
    000) return 1 ;;
    *) return 2 ;;
  esac
}

if probe; then exit 0; fi

# Two test runs starting at once must not both wipe and start the same directory.
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
st=0; probe || st=$?
case $st in
  0) exit 0 ;;  # the other run started it while we waited
  2)
    # Our own gateway without the user (a start interrupted after radosgw came up): add it.
    if [ -f "$DIR/ceph.conf" ] && [ -f "$DIR/run/client.rgw.a.pid" ]; then
      CEPH_CONF=$DIR/ceph.conf radosgw-admin user create --uid=test --display-name=test \
        --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null 2>&1 || true
      probe && exit 0
    fi
    echo "ceph-s3-ensure: something answers on $URL but refuses access key $ACCESS_KEY;" \
         "stop it or set RGW_PORT to a free port" >&2
    exit 1 ;;
esac
# 9>&-: the daemons must not inherit the lock, or they would hold it for as long as they run.
"$HERE/ceph-s3-start.sh" "$DIR" 9>&-
for _ in $(seq 1 50); do probe && exit 0; sleep 0.2; done
echo "ceph-s3-ensure: radosgw started in $DIR but does not accept the test credentials" >&2
exit 1
