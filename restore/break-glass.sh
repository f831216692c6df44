#!/usr/bin/env bash
# break-glass.sh: restore an ngcp-backup snapshot WITHOUT ngcp-backup, with standard Debian tools
# only: age, zstd, the mariadb client, tar, coreutils, and awscli for s3:// repositories.
# restore/README.md is the runbook this script automates; every step it takes is written there
# as commands to type by hand, in case this script itself fails.
#
# What it does, in order, touching nothing before everything is downloaded and verified:
#   1. lists the snapshots of the repository (those with a manifest.json) and picks one;
#   2. downloads it (s3://: `aws s3 sync`; file://: read where it is), checks the size and
#      sha256 of every object against the manifest, and refuses on any difference;
#   3. checks that the identity decrypts the snapshot, that MariaDB answers, that the target
#      does not already hold the snapshot's databases (or --replace-databases: a safety dump,
#      encrypted to the same identity, then DROP DATABASE);
#   4. unpacks the node files into --files-to (never over /), owners applied by NAME from
#      .ngcp-backup/files.tsv, modes kept;
#   5. streams age -d | zstd -d | mariadb: every schema, then the data (in parallel), then the
#      accounts and grants, then views, routines, triggers and events (triggers after the data,
#      so they do not fire during the load). No plaintext SQL ever touches the disk;
#   6. recomputes every table's row count and checksum and compares them with the figures taken
#      inside the snapshot (details.json): any difference is a failed restore (exit 15).
# Step 6 must read details.json, one line of JSON: it uses python3, else node, else perl
# (JSON::PP); with none of them it says "figures not checked" and how to check later.
#
# Environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION / AWS_PROFILE or
# ~/.aws/credentials for s3:// (never on a command line); BREAK_GLASS_FIGURES_WITH=python3|node|
# perl|none forces the interpreter of step 6; TMPDIR for the default work directory.
#
# Exit codes (as ngcp-backup's): 0 ok, 1 failure, 2 usage, 5 database, 10 repository,
# 12 key, 13 repository access (credentials), 14 integrity, 15 figures differ, 16 refused.

set -euo pipefail
umask 077
export LC_ALL=C

PROG=break-glass
SNAPSHOT_ID_RE='^[0-9]{8}T[0-9]{6}Z-[a-z-]+-[0-9a-f]{4}$'
MANIFEST_FORMAT=ngcp-backup/manifest/1

usage() {
  cat <<'EOF'
Usage: break-glass.sh --repo file:///DIR|s3://BUCKET[/PREFIX] [--endpoint URL]
                      --identity FILE (--snapshot ID | --latest) [--node NAME]
                      [--socket SOCK | --host HOST --port PORT] [--user NAME]
                      [--defaults-extra-file FILE] [--files-to DIR] [--work-dir DIR]
                      [--databases-only | --files-only | --check-only] [--jobs N]
                      [--replace-databases] [--no-safety-dump] [--ignore-version]
       break-glass.sh --repo URL [--endpoint URL] [--node NAME] --list

  --repo URL               the repository: file:///path or s3://bucket/prefix
  --endpoint URL           S3 endpoint of a non-AWS store (Ceph RGW, MinIO, ...)
  --identity FILE          the age identity (AGE-SECRET-KEY-1...) that decrypts the backups
  --snapshot ID, --latest  which snapshot; --list shows them
  --node NAME              the node the snapshot is of, when the repository holds several
  --socket SOCK            MariaDB socket (default /run/mysqld/mysqld.sock, as root)
  --host H --port P        MariaDB over TCP instead
  --user NAME              MariaDB user (default root; with --defaults-extra-file, the file's)
  --defaults-extra-file F  MySQL option file with [client] user/password: the only way to give
                           a password (never on the command line)
  --files-to DIR           where the node files are unpacked (default WORK/files); must be new
                           or empty and never /: review them, then copy them into place
  --work-dir DIR           downloads go here (default ${TMPDIR:-/var/tmp}/ngcp-break-glass.XXXXXX)
  --databases-only         restore the databases, not the files
  --files-only             restore the files, not the databases
  --check-only             load nothing: compare the target's tables with the snapshot's figures
  --jobs N                 data objects loaded in parallel (default: CPUs, at most 4)
  --replace-databases      drop the snapshot's databases on the target first (a fresh NGCP
                           install has them); a safety dump encrypted to the identity is taken
                           first unless --no-safety-dump
  --ignore-version         restore onto a node whose /etc/ngcp_version differs from the backup's
EOF
}

# ---------------------------------------------------------------------------------------------
# Messages and failures

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
die() {
  local code=$1
  shift
  printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
  exit "$code"
}
usage_error() {
  printf '%s: %s\n(see --help)\n' "$PROG" "$*" >&2
  exit 2
}
human() {
  local b=$1
  if ((b >= 1073741824)); then printf '%d.%d GiB' $((b / 1073741824)) $((b % 1073741824 * 10 / 1073741824))
  elif ((b >= 1048576)); then printf '%d.%d MiB' $((b / 1048576)) $((b % 1048576 * 10 / 1048576))
  elif ((b >= 1024)); then printf '%d KiB' $((b / 1024))
  else printf '%d B' "$b"; fi
}
now_ms() { local t; t=$(date +%s%N); printf '%s' $((t / 1000000)); }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

# ---------------------------------------------------------------------------------------------
# Arguments

REPO='' ENDPOINT='' IDENTITY='' SNAPSHOT='' LATEST=0 NODE='' LIST=0
SOCKET='' HOST='' PORT='' DB_USER='' DEFAULTS_FILE='' FILES_TO='' WORK='' JOBS=''
MODE=all REPLACE=0 SAFETY_DUMP=1 IGNORE_VERSION=0

need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ $arg == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case $arg in
    --repo) need_value "$@"; REPO=$2; shift 2 ;;
    --endpoint) need_value "$@"; ENDPOINT=$2; shift 2 ;;
    --identity) need_value "$@"; IDENTITY=$2; shift 2 ;;
    --snapshot) need_value "$@"; SNAPSHOT=$2; shift 2 ;;
    --latest) LATEST=1; shift ;;
    --node) need_value "$@"; NODE=$2; shift 2 ;;
    --list) LIST=1; shift ;;
    --socket) need_value "$@"; SOCKET=$2; shift 2 ;;
    --host) need_value "$@"; HOST=$2; shift 2 ;;
    --port) need_value "$@"; PORT=$2; shift 2 ;;
    --user) need_value "$@"; DB_USER=$2; shift 2 ;;
    --defaults-extra-file) need_value "$@"; DEFAULTS_FILE=$2; shift 2 ;;
    --files-to) need_value "$@"; FILES_TO=$2; shift 2 ;;
    --work-dir) need_value "$@"; WORK=$2; shift 2 ;;
    --jobs) need_value "$@"; JOBS=$2; shift 2 ;;
    --databases-only) [[ $MODE == all ]] || usage_error "choose one of --databases-only, --files-only, --check-only"; MODE=databases; shift ;;
    --files-only) [[ $MODE == all ]] || usage_error "choose one of --databases-only, --files-only, --check-only"; MODE=files; shift ;;
    --check-only) [[ $MODE == all ]] || usage_error "choose one of --databases-only, --files-only, --check-only"; MODE=check; shift ;;
    --replace-databases) REPLACE=1; shift ;;
    --no-safety-dump) SAFETY_DUMP=0; shift ;;
    --ignore-version) IGNORE_VERSION=1; shift ;;
    --password | -p | --password=*) usage_error "a password is never given on the command line: put it in a MySQL option file and pass --defaults-extra-file FILE" ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $arg" ;;
  esac
done

[[ -n $REPO ]] || usage_error "--repo is required (file:///DIR or s3://BUCKET/PREFIX)"
if ((LIST == 0)); then
  [[ -n $IDENTITY ]] || usage_error "--identity FILE is required (the age identity that decrypts the backups)"
  [[ -n $SNAPSHOT || $LATEST == 1 ]] || usage_error "choose a snapshot: --snapshot ID or --latest (--list shows them)"
  [[ -z $SNAPSHOT || $LATEST == 0 ]] || usage_error "--snapshot and --latest exclude each other"
fi
[[ -z $SNAPSHOT || $SNAPSHOT =~ $SNAPSHOT_ID_RE ]] || usage_error "not a snapshot id: $SNAPSHOT (like 20261121T023000Z-nightly-3f9a)"
[[ -z $NODE || $NODE =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "not a node name: $NODE"
[[ -z $SOCKET || -z $HOST ]] || usage_error "--socket and --host exclude each other"
[[ -z $PORT || -n $HOST ]] || usage_error "--port needs --host"
[[ -z $PORT || $PORT =~ ^[0-9]+$ ]] || usage_error "--port must be a number"
if [[ -n $JOBS ]]; then
  [[ $JOBS =~ ^[1-9][0-9]*$ ]] || usage_error "--jobs must be a positive number"
else
  JOBS=$(nproc 2>/dev/null || echo 2)
  ((JOBS <= 4)) || JOBS=4
fi
if [[ $MODE == files || $MODE == check ]]; then
  ((REPLACE == 0)) || usage_error "--replace-databases makes no sense with --$MODE-only"
fi
if [[ $MODE == databases || $MODE == check ]]; then
  [[ -z $FILES_TO ]] || usage_error "--files-to makes no sense with --$MODE-only"
fi

case $REPO in
  file://*)
    REPO_KIND='file'
    REPO_DIR=${REPO#file://}
    REPO_DIR=${REPO_DIR%/}
    [[ $REPO_DIR == /* ]] || usage_error "a file:// repository needs an absolute path: file:///DIR"
    [[ -z $ENDPOINT ]] || usage_error "--endpoint is for s3:// repositories"
    ;;
  s3://*)
    REPO_KIND=s3
    rest=${REPO#s3://}
    BUCKET=${rest%%/*}
    PREFIX=
    [[ $rest == */* ]] && PREFIX=${rest#*/}
    PREFIX=${PREFIX%/}
    [[ -n $BUCKET ]] || usage_error "no bucket in $REPO (s3://BUCKET/PREFIX)"
    ;;
  *) usage_error "--repo must be file:///DIR or s3://BUCKET[/PREFIX], not $REPO" ;;
esac

# ---------------------------------------------------------------------------------------------
# Tools

need_tool() {
  local tool=$1 pkg=$2
  command -v "$tool" >/dev/null 2>&1 || die 1 "$tool is not installed: apt-get install $pkg"
}
need_tool sha256sum coreutils
[[ $REPO_KIND == s3 ]] && need_tool aws awscli
if ((LIST == 0)); then
  need_tool age age
  [[ $MODE == check ]] || need_tool zstd zstd
  [[ $MODE != all && $MODE != files ]] || need_tool tar tar
  [[ $MODE == files ]] || need_tool mariadb mariadb-client
fi

AWS=(aws)
[[ -n $ENDPOINT ]] && AWS+=(--endpoint-url "$ENDPOINT")

# ---------------------------------------------------------------------------------------------
# Step 1: list the snapshots (a snapshot exists once its manifest.json does)

s3_key() { printf '%s' "${PREFIX:+$PREFIX/}$1"; }

# Debian's awscli 2.9 hides any S3 error whose <Message> is empty (Ceph RGW sends those) behind
# "argument of type 'NoneType' is not iterable". The error code is in its --debug output: run
# the command again with --debug and keep only that (the debug output never leaves the pipe).
# Prints a message; returns 13 for refused credentials, 10 otherwise.
aws_failure() { # message-from-stderr aws-args...
  local msg=$1 code
  shift
  if [[ -z $msg || $msg == *NoneType* ]]; then
    code=$("${AWS[@]}" --debug "$@" 2>&1 >/dev/null | grep -o -m 1 '<Code>[^<]*</Code>' | head -n 1 | sed 's/<[^>]*>//g' || true)
    [[ -n $code ]] && msg="S3 error $code"
  fi
  REPLY=$msg
  case $msg in
    *AccessDenied* | *InvalidAccessKeyId* | *SignatureDoesNotMatch* | *Unable\ to\ locate\ credentials* | *403*) return 13 ;;
    *) return 10 ;;
  esac
}

list_snapshots() { # prints "node id" lines, sorted by id
  local under="snapshots/${NODE:+$NODE/}" line key rel node id
  if [[ $REPO_KIND == file ]]; then
    [[ -d $REPO_DIR ]] || die 10 "the repository directory $REPO_DIR does not exist (is the disk mounted?)"
    [[ -d $REPO_DIR/snapshots ]] || return 0
    for key in "$REPO_DIR"/snapshots/*/*/manifest.json; do
      [[ -f $key ]] || continue
      rel=${key#"$REPO_DIR"/snapshots/}
      node=${rel%%/*}
      id=${rel#*/}
      id=${id%/manifest.json}
      [[ -z $NODE || $node == "$NODE" ]] || continue
      if [[ $id =~ $SNAPSHOT_ID_RE ]]; then printf '%s %s\n' "$node" "$id"; fi
    done | sort -k2,2 -k1,1
  else
    local out err
    err=$(mktemp)
    if ! out=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET/$(s3_key "$under")" 2>"$err"); then
      local msg
      msg=$(grep -v '^$' "$err" | tail -n 3 || true)
      rm -f "$err"
      # `aws s3 ls` exits 1 with no output for an empty listing.
      [[ -z $msg ]] && return 0
      local rc=0
      aws_failure "$msg" s3 ls "s3://$BUCKET/$(s3_key "$under")" || rc=$?
      die "$rc" "cannot list s3://$BUCKET/$(s3_key "$under") (check the bucket, --endpoint and the AWS credentials in the environment or ~/.aws/credentials): $REPLY"
    fi
    rm -f "$err"
    while read -r _ _ _ key; do
      rel=${key#"${PREFIX:+$PREFIX/}"snapshots/}
      [[ $rel =~ ^([^/]+)/([^/]+)/manifest\.json$ ]] || continue
      node=${BASH_REMATCH[1]}
      id=${BASH_REMATCH[2]}
      if [[ $id =~ $SNAPSHOT_ID_RE ]]; then printf '%s %s\n' "$node" "$id"; fi
    done <<<"$out" | sort -k2,2 -k1,1
  fi
}

say "repository $REPO"
SNAPSHOTS=$(list_snapshots)
if ((LIST == 1)); then
  if [[ -z $SNAPSHOTS ]]; then
    say "no snapshot${NODE:+ of node $NODE} (no manifest.json) in $REPO"
  else
    printf '%-16s %s\n' NODE SNAPSHOT
    while read -r node id; do printf '%-16s %s\n' "$node" "$id"; done <<<"$SNAPSHOTS"
  fi
  exit 0
fi
[[ -n $SNAPSHOTS ]] || die 2 "no snapshot${NODE:+ of node $NODE} in $REPO (a snapshot exists once its manifest.json does)"
if [[ -z $NODE ]]; then
  nodes=$(cut -d' ' -f1 <<<"$SNAPSHOTS" | sort -u)
  if [[ $(wc -l <<<"$nodes") -gt 1 ]]; then
    die 2 "the repository holds snapshots of several nodes ($(tr '\n' ' ' <<<"$nodes")): choose one with --node NAME"
  fi
  NODE=$nodes
fi
if ((LATEST == 1)); then
  SNAPSHOT=$(grep "^$NODE " <<<"$SNAPSHOTS" | tail -n 1 | cut -d' ' -f2)
  say "latest snapshot of node $NODE: $SNAPSHOT"
else
  grep -qx "$NODE $SNAPSHOT" <<<"$SNAPSHOTS" ||
    die 2 "no snapshot $SNAPSHOT of node $NODE in $REPO (an unfinished snapshot has no manifest.json; see --list)"
  say "snapshot $SNAPSHOT of node $NODE"
fi

# ---------------------------------------------------------------------------------------------
# The work directory

if [[ -n $WORK ]]; then
  mkdir -p -- "$WORK"
  chmod 700 -- "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ngcp-break-glass.XXXXXX")
fi
WORK=$(cd -- "$WORK" && pwd)
TMP_FILES=()
OLD_PACKET=
cleanup() {
  local rc=$?
  if [[ -n $OLD_PACKET ]]; then
    sql_quiet "SET GLOBAL max_allowed_packet=$OLD_PACKET" 2>/dev/null || true
  fi
  ((${#TMP_FILES[@]} == 0)) || rm -f -- "${TMP_FILES[@]}"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmpfile() { local f; f=$(mktemp "$WORK/.tmp.XXXXXX"); TMP_FILES+=("$f"); REPLY=$f; }

# ---------------------------------------------------------------------------------------------
# Step 2: download and verify

if [[ $REPO_KIND == file ]]; then
  SNAP_DIR=$REPO_DIR/snapshots/$NODE/$SNAPSHOT
  say "reading the snapshot where it is: $SNAP_DIR"
else
  SNAP_DIR=$WORK/snapshots/$NODE/$SNAPSHOT
  mkdir -p -- "$SNAP_DIR"
  src="s3://$BUCKET/$(s3_key "snapshots/$NODE/$SNAPSHOT/")"
  filter=()
  case $MODE in
    files) filter=(--exclude 'db/*' --exclude 'grants.sql.zst.age') ;;
    check) filter=(--exclude '*' --include 'manifest.json' --include 'details.json.age') ;;
  esac
  say "downloading $src to $SNAP_DIR"
  t0=$(now_ms)
  tmpfile
  SYNC_ERR=$REPLY
  if ! "${AWS[@]}" s3 sync --only-show-errors --no-progress "${filter[@]}" "$src" "$SNAP_DIR/" 2>"$SYNC_ERR"; then
    rc=0
    aws_failure "$(grep -v '^$' "$SYNC_ERR" | tail -n 3)" s3 ls "$src" || rc=$?
    die "$rc" "downloading $src failed: $REPLY"
  fi
  say "downloaded in $(elapsed "$t0")"
fi
MANIFEST=$SNAP_DIR/manifest.json
[[ -f $MANIFEST ]] || die 14 "$MANIFEST is missing"

# JSON string (as JSON.stringify writes it) to text; only the escapes a name can need.
json_string() {
  local v=$1 out='' c
  [[ ${#v} -ge 2 && $v == \"*\" ]] || return 1
  v=${v:1:${#v}-2}
  if [[ $v != *\\* ]]; then REPLY=$v; return 0; fi
  while [[ -n $v ]]; do
    c=${v:0:1}
    if [[ $c == \\ ]]; then
      case ${v:1:1} in
        \" | \\ | /) out+=${v:1:1}; v=${v:2} ;;
        *) return 1 ;;
      esac
    else
      out+=$c
      v=${v:1}
    fi
  done
  REPLY=$out
}

# The manifest is pretty-printed JSON (2 spaces, one key per line): read it line by line.
O_NAME=() O_ROLE=() O_SIZE=() O_SHA=() O_DB=() O_TABLE=()
M_FORMAT='' M_ID='' M_NODE='' M_NGCP='' M_MARIADB='' M_KIND=''
M_RECIPIENTS=() M_DATABASES=()
parse_manifest() {
  local line section='' key raw lineno=0 in_object=0
  local name role size sha db table
  while IFS= read -r line || [[ -n $line ]]; do
    lineno=$((lineno + 1))
    case $section in
      objects)
        if [[ $line =~ ^\ {4}\{$ ]]; then
          in_object=1 name='' role='' size='' sha='' db='' table=''
        elif ((in_object)) && [[ $line =~ ^\ {6}\"([A-Za-z0-9]+)\":\ (.*)$ ]]; then
          key=${BASH_REMATCH[1]}
          raw=${BASH_REMATCH[2]%,}
          case $key in
            name) json_string "$raw" || { echo "line $lineno: $line" >&2; return 1; }; name=$REPLY ;;
            role) json_string "$raw" || { echo "line $lineno: $line" >&2; return 1; }; role=$REPLY ;;
            database) json_string "$raw" || { echo "line $lineno: $line" >&2; return 1; }; db=$REPLY ;;
            table) json_string "$raw" || { echo "line $lineno: $line" >&2; return 1; }; table=$REPLY ;;
            size) size=$raw ;;
            sha256) json_string "$raw" || { echo "line $lineno: $line" >&2; return 1; }; sha=$REPLY ;;
          esac
        elif ((in_object)) && [[ $line =~ ^\ {4}\},?$ ]]; then
          in_object=0
          [[ -n $name && -n $role && $size =~ ^[0-9]+$ && $sha =~ ^[0-9a-f]{64}$ ]] || {
            echo "object ending at line $lineno lacks name, role, size or sha256" >&2
            return 1
          }
          O_NAME+=("$name") O_ROLE+=("$role") O_SIZE+=("$size") O_SHA+=("$sha") O_DB+=("$db") O_TABLE+=("$table")
        elif [[ $line =~ ^\ {2}\],?$ ]]; then
          section=
        else
          echo "unexpected line $lineno: $line" >&2
          return 1
        fi
        ;;
      recipients | databases)
        if [[ $line =~ ^\ {2}\],?$ ]]; then
          section=
        elif [[ $line =~ ^\ {4}(\".*\"),?$ ]]; then
          json_string "${BASH_REMATCH[1]}" || { echo "line $lineno: $line" >&2; return 1; }
          if [[ $section == recipients ]]; then M_RECIPIENTS+=("$REPLY"); else M_DATABASES+=("$REPLY"); fi
        else
          echo "unexpected line $lineno: $line" >&2
          return 1
        fi
        ;;
      skip)
        if [[ $line =~ ^\ {2}[\]\}],?$ ]]; then section=; fi
        ;;
      *)
        if [[ $line =~ ^\ {2}\"([A-Za-z0-9]+)\":\ (.*)$ ]]; then
          key=${BASH_REMATCH[1]}
          raw=${BASH_REMATCH[2]%,}
          case $key in
            objects) [[ $raw == '[' ]] && section=objects ;;
            recipients | databases) [[ $raw == '[' ]] && section=$key ;;
            format) json_string "$raw" && M_FORMAT=$REPLY ;;
            id) json_string "$raw" && M_ID=$REPLY ;;
            node) json_string "$raw" && M_NODE=$REPLY ;;
            kind) json_string "$raw" && M_KIND=$REPLY ;;
            ngcpVersion) json_string "$raw" && M_NGCP=$REPLY ;;
            mariadbVersion) json_string "$raw" && M_MARIADB=$REPLY ;;
            *) [[ $raw == '{' || $raw == '[' ]] && section=skip ;;
          esac
        elif [[ $line != '{' && $line != '}' ]]; then
          echo "unexpected line $lineno: $line" >&2
          return 1
        fi
        ;;
    esac
  done <"$MANIFEST"
  return 0
}
tmpfile
PARSE_ERR=$REPLY
parse_manifest 2>"$PARSE_ERR" ||
  die 14 "$MANIFEST is not a manifest this script can read ($(head -c 300 "$PARSE_ERR" | tr "\n" " " | grep . || echo "a JSON value it cannot decode")): restore by hand (restore/README.md)"
[[ $M_FORMAT == "$MANIFEST_FORMAT" ]] || die 14 "$MANIFEST has format \"$M_FORMAT\", not $MANIFEST_FORMAT"
[[ $M_ID == "$SNAPSHOT" && $M_NODE == "$NODE" ]] || die 14 "$MANIFEST describes snapshot $M_ID of node $M_NODE, not $SNAPSHOT of $NODE"
((${#O_NAME[@]} > 0)) || die 14 "$MANIFEST lists no object"
say "manifest: ${#O_NAME[@]} objects, databases: ${M_DATABASES[*]:-none}; NGCP $M_NGCP, MariaDB $M_MARIADB, kind $M_KIND"

# Which objects this run needs.
wanted_role() {
  case $MODE:$1 in
    *:details) return 0 ;;
    all:* ) return 0 ;;
    files:files) return 0 ;;
    databases:files | files:* | check:*) return 1 ;;
    databases:*) return 0 ;;
  esac
}
SELECTED=()
DETAILS='' FILES_OBJ='' GRANTS=''
for i in "${!O_NAME[@]}"; do
  name=${O_NAME[$i]}
  # A manifest is public metadata: never let it name a path outside the snapshot.
  [[ $name =~ ^[A-Za-z0-9_$%.-]+(/[A-Za-z0-9_$%.-]+)*$ && /$name/ != */../* && /$name/ != */./* ]] ||
    die 14 "the manifest names an object with an unsafe path: $name"
  case ${O_ROLE[$i]} in
    details) DETAILS=$i ;;
    files) FILES_OBJ=$i ;;
    grants) GRANTS=$i ;;
    schema | objects | data) [[ -n ${O_DB[$i]} ]] || die 14 "manifest object $name has no database" ;;
    *) die 14 "manifest object $name has an unknown role ${O_ROLE[$i]}" ;;
  esac
  if [[ -n ${O_DB[$i]} && ${O_DB[$i]} =~ [[:cntrl:]] ]]; then die 14 "manifest object $name names a database with control characters"; fi
  wanted_role "${O_ROLE[$i]}" && SELECTED+=("$i")
done
[[ -n $DETAILS ]] || die 14 "the manifest lists no details.json.age"
[[ $MODE == databases || $MODE == check || -n $FILES_OBJ ]] || die 14 "the manifest lists no files artifact"

# Sizes first (cheap), then sha256 of every object this run will read.
t0=$(now_ms)
bad=()
total=0
tmpfile
CHECKLIST=$REPLY
for i in "${SELECTED[@]}"; do
  f=$SNAP_DIR/${O_NAME[$i]}
  if [[ ! -f $f ]]; then
    bad+=("${O_NAME[$i]}: missing from the snapshot")
    continue
  fi
  size=$(stat -c %s -- "$f")
  if [[ $size != "${O_SIZE[$i]}" ]]; then
    bad+=("${O_NAME[$i]}: $size bytes, the manifest says ${O_SIZE[$i]}")
    continue
  fi
  total=$((total + size))
  printf '%s  %s\n' "${O_SHA[$i]}" "${O_NAME[$i]}" >>"$CHECKLIST"
done
if [[ -s $CHECKLIST ]]; then
  if ! out=$(cd -- "$SNAP_DIR" && sha256sum --check --strict --quiet "$CHECKLIST" 2>&1); then
    while IFS= read -r line; do
      [[ $line =~ ^(.*):\ FAILED ]] && bad+=("${BASH_REMATCH[1]}: sha256 differs from the manifest")
      [[ $line =~ ^sha256sum: && $line != *WARNING* ]] && bad+=("$line")
    done <<<"$out"
    ((${#bad[@]} > 0)) || bad+=("sha256sum: $out")
  fi
fi
if ((${#bad[@]} > 0)); then
  for b in "${bad[@]}"; do printf '%s: DAMAGED: %s\n' "$PROG" "$b" >&2; done
  die 14 "${#bad[@]} object(s) of snapshot $SNAPSHOT do not match its manifest; nothing was restored. Use another snapshot (--list), or fetch the object again."
fi
say "verified ${#SELECTED[@]} objects ($(human "$total")): sizes and sha256 match the manifest ($(elapsed "$t0"))"

# ---------------------------------------------------------------------------------------------
# Step 3: preflight; the identity, the target server, the files directory

[[ -r $IDENTITY ]] || die 12 "cannot read the identity file $IDENTITY"
if command -v age-keygen >/dev/null 2>&1 && mine=$(age-keygen -y "$IDENTITY" 2>/dev/null) && [[ -n $mine ]]; then
  found=0
  while IFS= read -r r; do
    for m in "${M_RECIPIENTS[@]}"; do [[ $r == "$m" ]] && found=1; done
  done <<<"$mine"
  ((found)) || die 12 "the identity $IDENTITY (recipient $(head -n 1 <<<"$mine")) is not one this snapshot was encrypted to (${M_RECIPIENTS[*]}): use the identity that belongs to one of those"
fi
DETAILS_FILE=$SNAP_DIR/${O_NAME[$DETAILS]}
if ! err=$(age -d -i "$IDENTITY" -- "$DETAILS_FILE" 2>&1 >/dev/null); then
  die 12 "the identity $IDENTITY cannot decrypt ${O_NAME[$DETAILS]}: $(grep -v 'report unexpected' <<<"$err" | tr '\n' ' ')"
fi
say "the identity decrypts the snapshot"

# The connection: --defaults-extra-file must come first; a password only ever comes from it.
CONN=()
[[ -n $DEFAULTS_FILE ]] && CONN+=("--defaults-extra-file=$DEFAULTS_FILE")
if [[ -n $HOST ]]; then
  CONN+=("--host=$HOST" --protocol=TCP)
  [[ -n $PORT ]] && CONN+=("--port=$PORT")
  TARGET="$HOST:${PORT:-3306}"
else
  SOCKET=${SOCKET:-/run/mysqld/mysqld.sock}
  CONN+=("--socket=$SOCKET" --protocol=SOCKET)
  TARGET=$SOCKET
fi
if [[ -n $DB_USER ]]; then CONN+=("--user=$DB_USER"); elif [[ -z $DEFAULTS_FILE ]]; then CONN+=(--user=root); fi
MYSQL=(mariadb "${CONN[@]}" --default-character-set=utf8mb4 --max-allowed-packet=1073741824 --batch)
# A failed statement is printed whole by default (a 1 MiB INSERT of data, password hashes...):
# the error line names the object and the line, that is enough.
if [[ $MODE != files ]] && mariadb --help 2>/dev/null | grep -- '--print-query-on-error' >/dev/null; then
  MYSQL+=(--skip-print-query-on-error)
fi
sql() { "${MYSQL[@]}" --skip-column-names -e "$1"; }
sql_quiet() { "${MYSQL[@]}" --skip-column-names -e "$1" >/dev/null; }
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

if [[ $MODE != files ]]; then
  if ! version=$(sql 'SELECT VERSION()' 2>&1); then
    die 5 "cannot connect to MariaDB at $TARGET${DB_USER:+ as $DB_USER}: $version"
  fi
  say "target MariaDB $version at $TARGET"
fi

if [[ $MODE == all || $MODE == databases ]]; then
  if [[ -r /etc/ngcp_version ]]; then
    here=$(head -n 1 /etc/ngcp_version)
    if [[ -n $M_NGCP && $here != "$M_NGCP" ]]; then
      ((IGNORE_VERSION)) || die 16 "the backup is of NGCP $M_NGCP but this node runs $here (/etc/ngcp_version): install the same release first, or --ignore-version if you know better"
      warn "restoring a backup of NGCP $M_NGCP onto NGCP $here (--ignore-version)"
    fi
  fi
  list=
  for d in "${M_DATABASES[@]}"; do list+="${list:+,}$(sql_string "$d")"; done
  existing=()
  if [[ -n $list ]]; then
    out=$(sql "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ($list) ORDER BY 1") ||
      die 5 "cannot list the databases of $TARGET"
    [[ -z $out ]] || mapfile -t existing <<<"$out"
  fi
  if ((${#existing[@]} > 0)); then
    ((REPLACE)) || die 16 "the target already has the database(s) ${existing[*]} (a fresh NGCP install creates them): run again with --replace-databases to drop them first (after a safety dump), or restore into an empty server"
  fi
fi

if [[ $MODE == all || $MODE == files ]]; then
  FILES_TO=${FILES_TO:-$WORK/files}
  [[ $FILES_TO == /* ]] || FILES_TO=$PWD/$FILES_TO
  real=$(realpath -m -- "$FILES_TO")
  [[ $real != / ]] || die 16 "--files-to / would write over the live system: unpack elsewhere, review, then copy the files into place (restore/README.md)"
  if [[ -e $real ]]; then
    [[ -d $real ]] || die 16 "--files-to $FILES_TO exists and is not a directory"
    [[ -z $(ls -A -- "$real") ]] || die 16 "--files-to $FILES_TO is not empty: choose a new directory"
  fi
  FILES_TO=$real
fi

# ---------------------------------------------------------------------------------------------
# Step 4: the node files

# Streams one object through age (and zstd) to stdout.
plain() { age -d -i "$IDENTITY" -- "$SNAP_DIR/$1" | zstd -d -q -c; }

if [[ $MODE == all || $MODE == files ]]; then
  t0=$(now_ms)
  mkdir -p -- "$FILES_TO"
  chmod 700 -- "$FILES_TO"
  tar_owner=(--no-same-owner)
  plain "${O_NAME[$FILES_OBJ]}" | tar -x -p "${tar_owner[@]}" -f - -C "$FILES_TO" ||
    die 1 "unpacking ${O_NAME[$FILES_OBJ]} into $FILES_TO failed"
  INDEX=$FILES_TO/.ngcp-backup/files.tsv
  [[ -f $INDEX ]] || die 14 "the files artifact has no .ngcp-backup/files.tsv"
  am_root=0
  [[ $(id -u) == 0 ]] && am_root=1
  n=0 unknown=()
  declare -A user_ok=() group_ok=()
  while IFS=$'\t' read -r type mode user group _uid _gid _size _mtime path; do
    [[ -z $type || $type == \#* ]] && continue
    target=$FILES_TO$path
    [[ -e $target || -L $target ]] || { warn "$path is listed in files.tsv but not in the archive"; continue; }
    if ((am_root)); then
      # By name: numeric ids differ between installations (the mysql group of debian.cnf).
      if [[ -z ${user_ok[$user]-} ]]; then
        if id -u -- "$user" >/dev/null 2>&1; then user_ok[$user]=1; else user_ok[$user]=0; fi
      fi
      if [[ -z ${group_ok[$group]-} ]]; then
        if getent group -- "$group" >/dev/null 2>&1; then group_ok[$group]=1; else group_ok[$group]=0; fi
      fi
      owner=$user
      [[ ${user_ok[$user]} == 1 ]] || { unknown+=("user $user ($path)"); owner=root; }
      if [[ ${group_ok[$group]} == 1 ]]; then chown -h -- "$owner:$group" "$target"; else unknown+=("group $group ($path)"); chown -h -- "$owner" "$target"; fi
    fi
    # chown clears set-id bits: the mode goes last.
    [[ $type == symlink ]] || chmod -- "$mode" "$target"
    n=$((n + 1))
  done <"$INDEX"
  say "node files: $n entries unpacked into $FILES_TO ($(elapsed "$t0"))"
  if ((am_root == 0)); then
    warn "not running as root: owners were not applied (files.tsv in $FILES_TO/.ngcp-backup lists them)"
  elif ((${#unknown[@]} > 0)); then
    warn "owners unknown on this system, left to root: ${unknown[*]}"
  fi
  for f in /etc/ngcp-config/config.yml /etc/ngcp-config/constants.yml /etc/mysql/debian.cnf /etc/mysql/sipwise.cnf /etc/mysql/sipwise_extra.cnf; do
    if [[ -e $FILES_TO$f ]]; then printf '    %s\n' "$(stat -c '%A %U:%G' -- "$FILES_TO$f") $f"; fi
  done
fi

# ---------------------------------------------------------------------------------------------
# Step 5: the databases

# Loads one object: age -d | zstd -d | mariadb, nothing on disk.
load_object() { # index
  local i=$1 name=${O_NAME[$1]} db=${O_DB[$1]} args=()
  [[ ${O_ROLE[$i]} == data ]] && args=("--database=$db")
  # Statements such as SELECT SETVAL() print a result: only errors are worth showing.
  if ! plain "$name" | "${MYSQL[@]}" "${args[@]}" >/dev/null; then
    printf '%s: ERROR: loading %s%s failed (see the message above)\n' "$PROG" "$name" "${db:+ into $db}" >&2
    return 1
  fi
}

# Loads objects with up to JOBS at a time, in the order given; stops starting new ones after
# the first failure and returns non-zero once the running ones have ended.
load_parallel() {
  local i running=0 failed=0
  for i in "$@"; do
    ((failed == 0)) || break
    load_object "$i" &
    running=$((running + 1))
    if ((running >= JOBS)); then
      wait -n || failed=1
      running=$((running - 1))
    fi
  done
  while ((running > 0)); do
    wait -n || failed=1
    running=$((running - 1))
  done
  return "$failed"
}

if [[ $MODE == all || $MODE == databases ]]; then
  if ((${#existing[@]} > 0)); then
    if ((SAFETY_DUMP)); then
      command -v mariadb-dump >/dev/null 2>&1 || die 1 "mariadb-dump is not installed (apt-get install mariadb-client), or run with --no-safety-dump"
      safety=$WORK/safety-before-$SNAPSHOT.sql.zst.age
      say "safety dump of ${existing[*]} to $safety (encrypted to the identity's recipient)"
      if ! mariadb-dump "${CONN[@]}" --default-character-set=utf8mb4 --max-allowed-packet=1073741824 \
        --single-transaction --routines --triggers --events --databases "${existing[@]}" |
        zstd -q -3 | age -e -i "$IDENTITY" >"$safety"; then
        rm -f -- "$safety"
        die 5 "the safety dump failed: nothing was dropped (run with --no-safety-dump to skip it)"
      fi
    fi
    for d in "${existing[@]}"; do
      sql_quiet "DROP DATABASE $(sql_ident "$d")" || die 5 "DROP DATABASE $d failed"
    done
    say "dropped ${existing[*]} (--replace-databases)"
  fi

  packet=$(sql 'SELECT @@GLOBAL.max_allowed_packet') || die 5 "cannot read max_allowed_packet"
  if ((packet < 1073741824)); then
    if sql_quiet 'SET GLOBAL max_allowed_packet=1073741824' 2>/dev/null; then
      OLD_PACKET=$packet
      say "max_allowed_packet raised from $packet to 1 GiB for the load (put back afterwards)"
    else
      warn "max_allowed_packet is $packet and could not be raised: rows bigger than that will fail to load"
    fi
  fi

  t_db=$(now_ms)
  by_role() { local i; for i in "${SELECTED[@]}"; do [[ ${O_ROLE[$i]} == "$1" ]] && printf '%s\n' "$i"; done; return 0; }
  mapfile -t schema_objs < <(by_role schema)
  mapfile -t object_objs < <(by_role objects)
  # Biggest data objects first, so that the jobs finish together.
  mapfile -t data_objs < <(for i in $(by_role data); do printf '%s %s\n' "${O_SIZE[$i]}" "$i"; done | sort -k1,1nr | cut -d' ' -f2)

  t0=$(now_ms)
  load_parallel "${schema_objs[@]}" ||
    die 5 "the restore stopped in the schemas (see above): fix the cause, then run again with --replace-databases"
  say "schemas: ${#schema_objs[@]} databases created ($(elapsed "$t0"))"

  t0=$(now_ms)
  stored=0
  for i in "${data_objs[@]}"; do stored=$((stored + O_SIZE[i])); done
  load_parallel "${data_objs[@]}" ||
    die 5 "the data load failed (see above): the target holds a partial restore; fix the cause, then run again with --replace-databases"
  say "data: ${#data_objs[@]} objects ($(human "$stored") stored) loaded with $JOBS jobs ($(elapsed "$t0"))"

  if [[ -n $GRANTS ]]; then
    load_object "$GRANTS" || die 5 "loading the accounts and grants failed"
    say "accounts and grants loaded (ngcpcfg apply sets the service passwords from constants.yml again)"
  fi
  t0=$(now_ms)
  for i in "${object_objs[@]}"; do load_object "$i" || die 5 "loading the views, routines, triggers and events of ${O_DB[$i]} failed"; done
  say "views, routines, triggers and events of ${#object_objs[@]} databases loaded ($(elapsed "$t0"))"
  say "databases restored in $(elapsed "$t_db")"
fi

# ---------------------------------------------------------------------------------------------
# Step 6: the figures

# details.json (decrypted into memory only) to lines:
#   T <tab> database <tab> table <tab> rows <tab> checksum <tab> row expression
#   O <tab> database <tab> views <tab> routines <tab> triggers <tab> events
PY_FIGURES='
import json, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8"))
out = []
for db in d["databases"]:
    o = db.get("objects") or {}
    out.append(["O", db["name"]] + [str(o.get(k, 0)) for k in ("views", "routines", "triggers", "events")])
    for t in db["tables"]:
        if t.get("hasData"):
            out.append(["T", db["name"], t["name"], str(t["rows"]), str(t["checksum"]), t["rowExpression"]])
for f in out:
    if any(("\t" in x or "\n" in x) for x in f):
        sys.exit("a name or expression holds a tab or newline")
    sys.stdout.buffer.write(("\t".join(f) + "\n").encode("utf-8"))
'
JS_FIGURES='
let s = [];
process.stdin.on("data", (c) => s.push(c)).on("end", () => {
  const d = JSON.parse(Buffer.concat(s).toString("utf8"));
  const out = [];
  for (const db of d.databases) {
    const o = db.objects || {};
    out.push(["O", db.name, ...["views", "routines", "triggers", "events"].map((k) => String(o[k] ?? 0))]);
    for (const t of db.tables) if (t.hasData) out.push(["T", db.name, t.name, String(t.rows), String(t.checksum), t.rowExpression]);
  }
  if (out.some((f) => f.some((x) => /[\t\n]/.test(x)))) { console.error("a name or expression holds a tab or newline"); process.exit(1); }
  process.stdout.write(out.map((f) => f.join("\t") + "\n").join(""));
});
'
PL_FIGURES='
use strict; use JSON::PP;
local $/; my $d = JSON::PP->new->utf8->decode(<STDIN>);
binmode STDOUT, ":utf8";
my @out;
for my $db (@{$d->{databases}}) {
  my $o = $db->{objects} || {};
  push @out, ["O", $db->{name}, map { "" . ($o->{$_} // 0) } qw(views routines triggers events)];
  for my $t (@{$db->{tables}}) {
    push @out, ["T", $db->{name}, $t->{name}, "" . $t->{rows}, "" . $t->{checksum}, $t->{rowExpression}] if $t->{hasData};
  }
}
for my $f (@out) { die "a name or expression holds a tab or newline\n" if grep { /[\t\n]/ } @$f; }
print join("\t", @$_), "\n" for @out;
'

figures_interpreter() {
  local want=${BREAK_GLASS_FIGURES_WITH:-}
  case $want in
    python3 | perl | none) printf '%s' "$want"; return ;;
    node) command -v node >/dev/null 2>&1 && printf node || printf nodejs; return ;;
    '') ;;
    *) die 2 "BREAK_GLASS_FIGURES_WITH must be python3, node, perl or none" ;;
  esac
  if command -v python3 >/dev/null 2>&1; then printf python3
  elif command -v node >/dev/null 2>&1; then printf node
  elif command -v nodejs >/dev/null 2>&1; then printf nodejs
  elif command -v perl >/dev/null 2>&1 && perl -MJSON::PP -e 1 2>/dev/null; then printf perl
  else printf none; fi
}

if [[ $MODE == files ]]; then
  say "files-only: no database was touched"
else
  interp=$(figures_interpreter)
  if [[ $interp == none ]]; then
    warn "FIGURES NOT CHECKED: reading details.json needs python3, node or perl (apt-get install python3-minimal), then run this script again with --check-only; or check by hand (restore/README.md, step 7)"
  else
    t0=$(now_ms)
    case $interp in
      python3) reader=(python3 -c "$PY_FIGURES") ;;
      node | nodejs) reader=("$interp" -e "$JS_FIGURES") ;;
      perl) reader=(perl -e "$PL_FIGURES") ;;
    esac
    figures=$(age -d -i "$IDENTITY" -- "$DETAILS_FILE" | "${reader[@]}") ||
      die 14 "cannot read the figures in details.json with $interp"
    # One session, one query per table (numbered, so a failed one shows as missing).
    tmpfile
    QUERIES=$REPLY
    n=0
    {
      echo "SET time_zone='+00:00';"
      while IFS=$'\t' read -r kind db a b c e; do
        n=$((n + 1))
        if [[ $kind == T ]]; then
          echo "SELECT $n, COUNT(*), IFNULL(SUM(CRC32($e)),0) FROM $(sql_ident "$db").$(sql_ident "$a");"
        else
          q=$(sql_string "$db")
          echo "SELECT $n, (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA=$q), (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=$q), (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=$q), (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA=$q);"
        fi
      done <<<"$figures"
    } >"$QUERIES"
    tmpfile
    QERR=$REPLY
    results=$("${MYSQL[@]}" --skip-column-names --force <"$QUERIES" 2>"$QERR") || true
    declare -A got=()
    while IFS=$'\t' read -r k rest; do [[ -n $k ]] && got[$k]=$rest; done <<<"$results"
    n=0 ok=0 mismatches=0 rows_total=0
    while IFS=$'\t' read -r kind db a b c e; do
      n=$((n + 1))
      r=${got[$n]-}
      if [[ $kind == T ]]; then
        if [[ -z $r ]]; then
          printf '  MISSING  %s.%s: cannot be read on the target\n' "$db" "$a" >&2
          mismatches=$((mismatches + 1))
        elif [[ $r == "$b"$'\t'"$c" ]]; then
          ok=$((ok + 1))
          rows_total=$((rows_total + b))
          printf '  ok       %s.%s: %s rows\n' "$db" "$a" "$b"
        else
          printf '  MISMATCH %s.%s: rows %s and checksum %s on the target, %s and %s in the snapshot\n' "$db" "$a" "${r%%$'\t'*}" "${r#*$'\t'}" "$b" "$c" >&2
          mismatches=$((mismatches + 1))
        fi
      else
        want="$a"$'\t'"$b"$'\t'"$c"$'\t'"$e"
        if [[ $r != "$want" ]]; then
          printf '  MISMATCH %s: views, routines, triggers, events: %s on the target, %s in the snapshot\n' "$db" "${r//$'\t'/ }" "${want//$'\t'/ }" >&2
          mismatches=$((mismatches + 1))
        fi
      fi
    done <<<"$figures"
    if [[ -s $QERR ]]; then grep "^ERROR" "$QERR" | sed "s/^/  /" >&2 || true; fi
    if ((mismatches > 0)); then
      die 15 "FIGURES DIFFER: $mismatches table(s) or database(s) of the target do not match snapshot $SNAPSHOT: the restore failed; do not run ngcpcfg apply"
    fi
    say "figures match: $ok tables, $rows_total rows, row counts and checksums as in the snapshot (read with $interp, $(elapsed "$t0"))"
  fi
  if [[ $MODE != check ]]; then
    marks=$(sql "SELECT collector, acc_id FROM accounting.mark WHERE collector LIKE 'exporter-lastseq%' ORDER BY collector" 2>/dev/null || true)
    if [[ -n $marks ]]; then
      say "CDR export sequences restored (accounting.mark); CDR files exported after the snapshot will be exported again with these numbers reused, see restore/README.md:"
      while IFS=$'\t' read -r c v; do printf '    %s = %s\n' "$c" "$v"; done <<<"$marks"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
# What next

if [[ $MODE == all || $MODE == files ]]; then
  cat <<EOF
$PROG: NEXT STEPS (restore/README.md, step 6):
  review the files in $FILES_TO, then copy them over the fresh ones, keeping modes and owners:
    cp -a $FILES_TO/etc/ngcp-config/config.yml $FILES_TO/etc/ngcp-config/constants.yml /etc/ngcp-config/
    cp -a $FILES_TO/etc/mysql/debian.cnf /etc/mysql/
    cp -a $FILES_TO/etc/mysql/sipwise*.cnf /etc/mysql/
  (and the certificates, templates and other files you need), then:
    ngcpcfg apply 'restored the system from the backup'
  $FILES_TO holds secrets (constants.yml): remove it when you are done.
EOF
fi
if [[ $REPO_KIND == s3 ]]; then say "the downloaded (encrypted) snapshot stays in $SNAP_DIR until you remove it"; fi
say "done: snapshot $SNAPSHOT of node $NODE ($MODE)"
