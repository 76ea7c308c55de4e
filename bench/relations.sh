#!/usr/bin/env bash
# Relation lists as tables grow (issue 19's "Speed"): featwright only, p50/p99 of
#   nested:first   GET /api/v1/projects/{project_id}/cards?limit=20
#   nested:deep    the same list's middle page, by keyset cursor
#   labels:first   GET /api/v1/cards?labels=<id>&limit=20   (a `refs` filter: "has this one")
#   labels:deep    the same filter's middle page, by keyset cursor
# on a copy of the project with bench/relations/*.md added by `featwright add`, seeded by bulk
# SQL at each size in SIZES: one user, PARENTS projects, LABELS labels, the cards spread evenly
# over the projects, each with 0-3 labels.
#
#   bench/relations.sh                                  # SIZES="10000 1000000"
#   SIZES=10000 RUNS=1 DURATION=3 bench/relations.sh    # a quick look
#   SOURCE=main bench/relations.sh                      # copy a revision (or a checkout's
#                                                       # directory), not this checkout
#   NESTED=0 (or REFS=0)                                # leave the nested route (the refs
#                                                       # field) out of the doc
#
# Knobs (env, defaults): SIZES="10000 1000000" RUNS=3 DURATION=10 WARMUP=3 CONNS=32
#   PARENTS=100 LABELS=20 PORT=8312 SOURCE= (this checkout) NESTED=1 REFS=1
#   BENCH_WORK=${TMPDIR:-/tmp}/featwright-bench  SHARED_BENCH=../shared/bench (for pg.sh)
# The throwaway PostgreSQL is the baseline's pg.sh (127.0.0.1:55432), database
# featwright_relations; started and stopped here if it was not running. Writes
# bench/results/relations.json (not committed). Exit status non-zero if any request failed.
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

export ROOT BENCH_WORK="$WORK" BASE_DIR="$BASE" PORT="${PORT:-8312}" PLOT_PY="${PLOT_PY:-}"
export SIZES="${SIZES:-10000 1000000}" RUNS DURATION WARMUP CONNS PARENTS LABELS SOURCE NESTED REFS
# DRIVER=queries: bench/queries.sh runs bench/queries.py on the same footing.
"$ROOT/.venv/bin/python" "$ROOT/bench/${DRIVER:-relations}.py"
