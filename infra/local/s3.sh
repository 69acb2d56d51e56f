#!/usr/bin/env bash
# A local S3-compatible server (s3rver, from the project's devDependencies) for development:
# s3.sh start|stop|status [bucket...]. Port 9000 or $S3_PORT; loopback only; objects in
# .tmp/s3 of the checkout (a bucket is a folder there). Buckets named on `start` are created.
# Credentials: any access key id and secret work (s3rver checks neither); use S3RVER/S3RVER.
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
port=${S3_PORT:-9000}
dir="$here/.tmp/s3"
pidfile="$here/.tmp/s3rver-$port.pid"
log="$here/.tmp/s3rver-$port.log"
bin="$here/node_modules/.bin/s3rver"

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "${1:-}" in
  start)
    shift
    if running; then echo "s3rver already running on http://127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
    [ -x "$bin" ] || { echo "s3.sh: $bin not found; run npm install in $here" >&2; exit 1; }
    mkdir -p "$dir"
    buckets=()
    for b in "$@"; do buckets+=(--configure-bucket "$b"); done
    # s3rver 3.7 still uses an OpenSSL 1 hash API that Node 17+ only offers behind this flag.
    nohup node --openssl-legacy-provider "$bin" -d "$dir" -a 127.0.0.1 -p "$port" -s "${buckets[@]}" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "s3rver running on http://127.0.0.1:$port (pid $(cat "$pidfile"), data $dir)"
        echo "gateway: TFTPFN_OBJECT_STORE=s3 TFTPFN_S3_ENDPOINT=http://127.0.0.1:$port TFTPFN_S3_FORCE_PATH_STYLE=true TFTPFN_S3_ACCESS_KEY_ID=S3RVER TFTPFN_S3_SECRET_ACCESS_KEY=S3RVER TFTPFN_S3_REGION=us-east-1"
        exit 0
      fi
      sleep 0.1
    done
    echo "s3.sh: s3rver did not start; see $log" >&2
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo "s3rver stopped"; else echo "s3rver not running"; fi
    ;;
  status)
    if running; then echo "s3rver running on http://127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "s3rver not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start [bucket...]|stop|status" >&2
    exit 2
    ;;
esac
