#!/usr/bin/env bash
# A local redis-server for development: redis.sh start|stop|status.
# Port 6379 or $REDIS_PORT; loopback only; data, log and pidfile in .tmp/redis of the checkout.
# No persistence: the gateway uses Redis as a cache and a stats buffer, nothing to keep.
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
port=${REDIS_PORT:-6379}
dir="$here/.tmp/redis"
pidfile="$dir/redis-$port.pid"
bin=${REDIS_SERVER:-redis-server}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "${1:-}" in
  start)
    if running; then echo "redis already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
    command -v "$bin" >/dev/null 2>&1 || { echo "redis.sh: $bin not found; install it: sudo apt-get install redis-server" >&2; exit 1; }
    mkdir -p "$dir"
    "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --pidfile "$pidfile" --dir "$dir" --logfile "$dir/redis-$port.log"
    # daemonize returns before the server listens: wait (bounded) for the pidfile and the port.
    for _ in $(seq 1 50); do
      if running && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "redis running on redis://127.0.0.1:$port (pid $(cat "$pidfile"), log $dir/redis-$port.log)"
        exit 0
      fi
      sleep 0.1
    done
    echo "redis.sh: redis did not start on port $port; see $dir/redis-$port.log" >&2
    exit 1
    ;;
  stop)
    if ! running; then echo "redis not running on port $port"; rm -f "$pidfile"; exit 0; fi
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "redis stopped (port $port)"; exit 0; }
      sleep 0.1
    done
    echo "redis.sh: pid $pid did not exit within 5 s" >&2
    exit 1
    ;;
  status)
    if running; then echo "redis running on redis://127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "redis not running on port $port"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status   (port \$REDIS_PORT, default 6379)" >&2
    exit 2
    ;;
esac
