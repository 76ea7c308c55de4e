#!/usr/bin/env bash
# Throughput through the balancer with 1, 2 and 3 featwright processes in service
# (deploy/cluster.sh: HAProxy -> featwright x3 -> the route -> the primary's PgBouncer ->
# PostgreSQL, its standby synchronous), interleaved:
# each round measures 1, 2 and 3 in turn, so drift between them is shared.
#
#   bench/cluster.sh                   # GET by id, 3 rounds of 10 s, 64 connections
#   MODE=post ROUNDS=5 bench/cluster.sh
#
# Needs wrk (Debian: wrk; installed when missing, as root). The cluster is started and stopped
# here, on its own database (featwright_cluster_bench) and ports.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-get}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROWS=${ROWS:-10000}
export CLUSTER_PORT=${CLUSTER_PORT:-8300} CLUSTER_HTTP_PORT=${CLUSTER_HTTP_PORT:-8380} CLUSTER_DB_PORT=${CLUSTER_DB_PORT:-6499}
export CLUSTER_NODE_PORT=${CLUSTER_NODE_PORT:-5490} CLUSTER_ETCD_PORT=${CLUSTER_ETCD_PORT:-2490}
export CLUSTER_DATABASE=featwright_cluster_bench CLUSTER_STATE=${CLUSTER_STATE:-/tmp/featwright-cluster-bench}
export CLUSTER_ENV="LOG_REQUESTS=false ACCESS_TOKEN_EXPIRE_MINUTES=600"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

trap 'deploy/cluster.sh destroy' EXIT
deploy/cluster.sh up
ids=$CLUSTER_STATE/ids.txt
token=$(DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:$CLUSTER_DB_PORT/$CLUSTER_DATABASE" DB_PGBOUNCER=true \
  SECRET_KEY=$(cat "$CLUSTER_STATE/secret_key") ACCESS_TOKEN_EXPIRE_MINUTES=600 \
  .venv/bin/python bench/prepare.py --rows "$ROWS" --ids-out "$ids" 2>/dev/null | tail -1)

admin() { python3 - "$CLUSTER_STATE/haproxy.sock" "$1" <<'PY'
import socket, sys
with socket.socket(socket.AF_UNIX) as sock:
    sock.connect(sys.argv[1]); sock.sendall(sys.argv[2].encode() + b"\n"); sock.recv(65536)
PY
}
in_service() {  # the first $1 processes take traffic, the others none
  for n in 1 2 3; do
    if ((n <= $1)); then admin "enable server featwright/featwright$n"; else admin "disable server featwright/featwright$n"; fi
  done
  sleep 1
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for processes in 1 2 3; do
    in_service "$processes"
    line=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s bench/featwright.lua \
      "https://127.0.0.1:$CLUSTER_PORT" -- "$MODE" "$token" "$ids" | grep '^RESULT')
    rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
    results[$processes]+="$rps "
    echo "round $round, $processes process(es): $line"
  done
done
for processes in 1 2 3; do
  median=$(tr ' ' '\n' <<<"${results[$processes]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$MODE through HAProxy, $processes process(es): median $median req/s"
done
