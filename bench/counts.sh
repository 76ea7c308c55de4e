#!/usr/bin/env bash
# A GET with a count field against the same GET without one (bench/counts.py says what it
# measures): the req/s ratio, run by run, interleaved on one server.
#
#   bench/counts.sh                                   # ROWS=10000 COMMENTS=10 RUNS=5
#   RUNS=1 DURATION=3 bench/counts.sh                 # a quick look
#
# Knobs (env, defaults): ROWS=10000 COMMENTS=10 RUNS=5 DURATION=10 WARMUP=3 CONNS=32 PORT=8314
#   BENCH_WORK, SHARED_BENCH. It runs as bench/relations.sh does (wrk, the baseline's throwaway
# PostgreSQL on 127.0.0.1:55432, here database featwright_counts) and writes
# bench/results/counts.json.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
export DRIVER=counts PORT="${PORT:-8314}" RUNS="${RUNS:-5}" DURATION="${DURATION:-10}"
export WARMUP="${WARMUP:-3}" SIZES="${SIZES:-10000}"
exec "$(dirname "$0")/relations.sh"
