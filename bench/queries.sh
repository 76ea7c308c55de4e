#!/usr/bin/env bash
# Lists people query, as tables grow (bench/queries.py says what it measures): alone, without
# the plain lists `SCALE=1 make bench` measures first.
#
#   bench/queries.sh                                   # SIZES="10000 1000000"
#   SIZES=10000 RUNS=1 DURATION=3 bench/queries.sh     # a quick look
#
# Knobs (env, defaults): SIZES="10000 1000000" RUNS=1 DURATION=5 WARMUP=2 CONNS=32 PORT=8313
#   PLOT_PY (a python with matplotlib, as run.sh makes it: the chart), BENCH_WORK, SHARED_BENCH.
# It runs as bench/relations.sh does (wrk, the baseline's throwaway PostgreSQL on 127.0.0.1:55432,
# here database featwright_queries) and writes bench/results/queries.json and, with PLOT_PY,
# bench/chart/query-scaling.png.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
export DRIVER=queries PORT="${PORT:-8313}" RUNS="${RUNS:-1}" DURATION="${DURATION:-5}"
export WARMUP="${WARMUP:-2}"
exec "$(dirname "$0")/relations.sh"
