#!/usr/bin/env bash
# Lists people query, as tables grow (bench/queries.py says what it measures): alone, without
# the plain lists `SCALE=1 make bench` measures first.
#
#   bench/queries.sh                                   # SIZES="10000 1000000"
#   SIZES=10000 RUNS=1 DURATION=3 bench/queries.sh     # a quick look
#
# Knobs (env, defaults): SIZES="10000 1000000" RUNS=1 DURATION=5 WARMUP=2 CONNS=32 PORT=8313
#   BENCH_WORK=${TMPDIR:-/tmp}/featwright-bench  SHARED_BENCH=../shared/bench (for pg.sh)
# The throwaway PostgreSQL is the baseline's pg.sh (127.0.0.1:55432), database
# featwright_queries; started and stopped here if it was not running. Writes
# bench/results/queries.json and the chart bench/chart/query-scaling.png (with PLOT_PY, the
# bench's matplotlib venv, as run.sh makes it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/featwright-bench}"
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
command -v wrk >/dev/null || { echo "bench: wrk not found; sudo apt-get install wrk" >&2; exit 1; }
[[ -f "$SHARED/pg.sh" ]] || { echo "bench: $SHARED/pg.sh not found (set SHARED_BENCH)" >&2; exit 1; }
make -C "$ROOT" --no-print-directory install >/dev/null
mkdir -p "$WORK"
rm -rf "$WORK/baseline" && cp -r "$SHARED" "$WORK/baseline" && chmod -R u+w "$WORK/baseline"
BASE="$WORK/baseline"

PG_STARTED=0
: >"$WORK/servers.pid"
cleanup() {
  local pid
  for pid in $(cat "$WORK/servers.pid" 2>/dev/null); do
    kill -TERM "$pid" 2>/dev/null || true
  done
  if [[ "$PG_STARTED" == 1 ]]; then "$BASE/pg.sh" stop || true; fi
}
trap cleanup EXIT
if ! "$BASE/pg.sh" status >/dev/null 2>&1; then "$BASE/pg.sh" start; PG_STARTED=1; fi

export ROOT BENCH_WORK="$WORK" BASE_DIR="$BASE" PORT="${PORT:-8313}" PLOT_PY="${PLOT_PY:-}"
export SIZES="${SIZES:-10000 1000000}" RUNS="${RUNS:-1}" DURATION="${DURATION:-5}"
export WARMUP="${WARMUP:-2}" CONNS
"$ROOT/.venv/bin/python" "$ROOT/bench/queries.py"
