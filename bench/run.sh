#!/usr/bin/env bash
# Benchmark featwright against the raw Starlette + asyncpg baseline (../shared/bench).
#
#   make bench                         # = bench/run.sh compare, the defaults below
#   ROWS=1000000 make bench            # the same at 1M rows
#   SCALE=1 make bench                 # = bench/run.sh scale
#   MEMORY=1 make bench                # = bench/run.sh memory
#   TEAMS=1 make bench                 # = bench/run.sh teams: bench/teams.sh (a shared model's
#                                      #   GET and list against an owned model's)
#   RUNS=1 DURATION=3 WARMUP=1 ENDPOINTS="get post" bench/run.sh   # a quick look
#
# Modes:
#   compare  Both services up for the whole run, 1 uvicorn worker each (baseline: uvloop,
#            httptools, no access log; featwright: `featwright serve --no-access-log`), on
#            the same throwaway PostgreSQL (the baseline's pg.sh, 127.0.0.1:55432), separate
#            databases seeded with the same ROWS. Per endpoint: a warm-up of each, then
#            baseline run, featwright run, baseline run, ... (RUNS each), so drift hits both
#            alike. Ratio = median featwright req/s / median baseline req/s. Endpoints:
#              get          GET one row by a random id
#              list:1       page 1, limit 20 (with the total)
#              list:deep    the middle page by offset (?page=MID&limit=20)
#              cursor:deep  featwright only: the middle page by keyset cursor (the
#                           next_cursor of page MID-1); its ratio is against the baseline's
#                           offset list:deep. Skipped, with a notice, if lists have no cursor.
#              post         create one row
#              put          featwright only: PUT /api/v1/projects/{random id}; no ratio
#            Table on stdout; bench/results/latest.json; chart bench/results/ratio.png and
#            bench/chart/ratio.png (the committed copy the README shows).
#   scale    featwright list latency (p50/p99) for page 1 and the middle page, by offset
#            and by cursor (page 2 from page 1's cursor; the middle page from the one before
#            it), at each table size in SIZES. bench/results/scale.json and
#            bench/chart/list-scaling.png (+ a copy in bench/results/). Then (QUERIES=0
#            leaves it out) the lists people query, bench/queries.py: page 1 of each sort
#            key, range filter and a search, and a deep cursor page under a sort, at each
#            size; bench/results/queries.json and bench/chart/query-scaling.png.
#   memory   featwright only: after MEM_WARMUP s of warm-up, >= MEM_REQUESTS requests of a
#            GET/POST/list-page-1 mix, sampling the server's VmRSS every ~MEM_SAMPLE_EVERY
#            requests. bench/results/memory.json; fails if RSS grew > MEM_MAX_GROWTH %.
#
# Knobs (env, defaults):
#   ROWS=100000 RUNS=3 DURATION=10 WARMUP=3 CONNS=32 (wrk -t1, --timeout 10s)
#   ENDPOINTS="get list:1 list:deep cursor:deep post put"   (any subset; run in this order)
#   SIZES="10000 100000 1000000"   scale mode, where RUNS=1 DURATION=5 WARMUP=2 by default
#   MEM_REQUESTS=200000 MEM_SAMPLE_EVERY=20000 MEM_WARMUP=10 MEM_MAX_GROWTH=10   memory mode
#   PORT=8310 (featwright) BASE_PORT=8311 (baseline)   always on 127.0.0.1
#   SHARED_BENCH=../shared/bench (read-only; copied to $BENCH_WORK/baseline)
#   BENCH_WORK=${TMPDIR:-/tmp}/featwright-bench (baseline copy + venv, plot venv, logs)
#
# Exit status: non-zero if any request failed (non-2xx or socket error), if memory grew
# too much, or if the run could not be made; the table and JSON are written first.
# Every server started is stopped by PID on exit, and PostgreSQL if this script started it.
#
# Charts are drawn with matplotlib from a bench-only venv ($BENCH_WORK/plotvenv) installed
# from the hashed bench/requirements-plot.lock; to re-resolve it:
#   .tools/uv/bin/uv pip compile --generate-hashes --python-version 3.11 --universal \
#     bench/requirements-plot.in -o bench/requirements-plot.lock
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/featwright-bench}"

MODE="${1:-}"
if [[ -z "$MODE" ]]; then
  MODE=compare
  [[ "${SCALE:-0}" == 1 ]] && MODE=scale
  [[ "${MEMORY:-0}" == 1 ]] && MODE=memory
  [[ "${TEAMS:-0}" == 1 ]] && MODE=teams
fi
case "$MODE" in
  teams) exec "$ROOT/bench/teams.sh" ;;
  compare) ;;
  scale) RUNS="${RUNS:-1}" DURATION="${DURATION:-5}" WARMUP="${WARMUP:-2}" ;;
  memory) ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [compare|scale|memory|teams]  (see the top of $0)" >&2; exit 2 ;;
esac

if ! command -v wrk >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk (apt-get install wrk)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "bench: wrk not found; install it with: sudo apt-get install wrk" >&2; exit 1
  fi
fi
[[ -f "$SHARED/raw_app.py" ]] || { echo "bench: baseline not found at $SHARED (set SHARED_BENCH)" >&2; exit 1; }
make -C "$ROOT" --no-print-directory install >/dev/null

# The shared folder may be read-only: work on a copy (pg.sh, seed.py, bench.lua, raw_app.py).
mkdir -p "$WORK"
rm -rf "$WORK/baseline" && cp -r "$SHARED" "$WORK/baseline" && chmod -R u+w "$WORK/baseline"
BASE="$WORK/baseline"
if [[ "$MODE" == compare && ! -x "$WORK/venv/bin/python" ]]; then
  python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q -r "$BASE/requirements.txt"
fi

# matplotlib for the charts, hash-checked, in its own venv (never the project's .venv).
PLOT_PY=""
if [[ "$MODE" != memory ]]; then
  UV="$ROOT/.tools/uv/bin/uv"
  export UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
  [[ -x "$WORK/plotvenv/bin/python" ]] || "$UV" venv --quiet --python python3 "$WORK/plotvenv"
  "$UV" pip sync --quiet --python "$WORK/plotvenv/bin/python" --require-hashes \
    "$ROOT/bench/requirements-plot.lock"
  PLOT_PY="$WORK/plotvenv/bin/python"
fi

PG_STARTED=0 DRIVER_PID=""
PIDFILE="$WORK/servers.pid"
: >"$PIDFILE"
cleanup() {
  # bench.py stops its servers itself; this catches any it could not (e.g. killed -9).
  local pid
  for pid in $(cat "$PIDFILE" 2>/dev/null); do
    if kill -0 "$pid" 2>/dev/null; then
      echo "bench: stopping leftover server $pid"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$PIDFILE"
  if [[ "$PG_STARTED" == 1 ]]; then "$BASE/pg.sh" stop || true; fi
}
on_signal() {  # stop the driver (it stops its servers), then exit through cleanup
  trap - INT TERM
  if [[ -n "$DRIVER_PID" ]]; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
if ! "$BASE/pg.sh" status >/dev/null 2>&1; then "$BASE/pg.sh" start; PG_STARTED=1; fi

# The driver (stdlib only) runs in the background so a signal reaches the traps at once.
export ROOT BENCH_WORK="$WORK" BASE_DIR="$BASE" BASE_PY="$WORK/venv/bin/python" PLOT_PY
export ROWS RUNS DURATION WARMUP CONNS ENDPOINTS SIZES PORT BASE_PORT
export MEM_REQUESTS MEM_SAMPLE_EVERY MEM_WARMUP MEM_MAX_GROWTH
"$ROOT/.venv/bin/python" "$ROOT/bench/bench.py" "$MODE" &
DRIVER_PID=$!
status=0
wait "$DRIVER_PID" || status=$?
DRIVER_PID=""
if [[ "$MODE" == scale && "${QUERIES:-1}" == 1 ]]; then
  PORT="${QUERIES_PORT:-8313}" "$ROOT/.venv/bin/python" "$ROOT/bench/queries.py" &
  DRIVER_PID=$!
  wait "$DRIVER_PID" || status=$?
  DRIVER_PID=""
fi
exit "$status"
