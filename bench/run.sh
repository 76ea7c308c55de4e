#!/usr/bin/env bash
# Benchmark featwright against the raw Starlette + asyncpg baseline, in one sitting.
#
#   bench/run.sh                       # defaults below
#   ROWS=1000000 RUNS=5 bench/run.sh
#
# Both services run as 1 uvicorn worker (uvloop + httptools, no access log) against
# the same throwaway PostgreSQL cluster (the baseline's pg.sh, port 55432, fsync on),
# with the same row count, wrk settings and endpoints:
#   get       GET one row by a random id
#   list:1    first page (limit 20) with the total
#   list:mid  middle page
#   post      create one row
# The baseline is run by its own load.sh; featwright by the loop below. Prints one
# table with the medians and the ratio featwright/baseline.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/featwright-bench}"
ROWS="${ROWS:-100000}" DURATION="${DURATION:-10}" WARMUP="${WARMUP:-3}" RUNS="${RUNS:-3}"
CONNS="${CONNS:-32}" LIMIT=20 PORT="${PORT:-8310}" BASE_PORT="${BASE_PORT:-8311}"
ENDPOINTS="${ENDPOINTS:-get list:1 list:mid post}"
HOST=127.0.0.1
export SECRET_KEY="bench-only-secret-$(date +%s)-not-for-production-use"
export DATABASE_URL="postgresql+asyncpg://bench@127.0.0.1:55432/featwright_bench"

command -v wrk >/dev/null || { echo "bench: wrk not found (apt-get install wrk)" >&2; exit 1; }
[[ -f "$SHARED/raw_app.py" ]] || { echo "bench: baseline not found at $SHARED (set SHARED_BENCH)" >&2; exit 1; }
make -C "$ROOT" --no-print-directory install >/dev/null

mkdir -p "$WORK"
rm -rf "$WORK/baseline" && cp -r "$SHARED" "$WORK/baseline" && chmod -R u+w "$WORK/baseline"
BASE="$WORK/baseline"
if [[ ! -x "$WORK/venv/bin/python" ]]; then
  python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q -r "$BASE/requirements.txt"
fi

SERVER_PID="" PG_STARTED=0
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [[ "$PG_STARTED" == 1 ]] && "$BASE/pg.sh" stop || true
}
trap cleanup EXIT
if ! "$BASE/pg.sh" status >/dev/null 2>&1; then "$BASE/pg.sh" start; PG_STARTED=1; fi

echo "== baseline (raw Starlette + asyncpg)"
(cd "$BASE" && ROWS="$ROWS" DURATION="$DURATION" WARMUP="$WARMUP" RUNS="$RUNS" CONNS="$CONNS" \
  ENDPOINTS="$ENDPOINTS" PORT="$BASE_PORT" KEEP_PG=1 PY="$WORK/venv/bin/python" ./load.sh)
BASE_TSV="$(ls -t "$BASE"/results/load-*.tsv | head -n1)"

echo "== featwright"
"$BASE/pg.sh" psql -d postgres -qc "DROP DATABASE IF EXISTS featwright_bench WITH (FORCE)"
"$BASE/pg.sh" psql -d postgres -qc "CREATE DATABASE featwright_bench"
cd "$ROOT"
.venv/bin/featwright db upgrade >/dev/null 2>&1
TOKEN="$(.venv/bin/python bench/prepare.py --rows "$ROWS" --ids-out "$WORK/ids.txt")"
.venv/bin/featwright serve --host "$HOST" --port "$PORT" --no-access-log >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do
  curl -sf "http://$HOST:$PORT/health/live" >/dev/null && break
  sleep 0.5
done

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p"; }
LAST_PAGE=$(( (ROWS + LIMIT - 1) / LIMIT )); MID_PAGE=$(( (LAST_PAGE + 1) / 2 ))
TSV="$WORK/featwright.tsv"; : >"$TSV"
for ep in $ENDPOINTS; do
  case "$ep" in
    get) mode=get; arg="$WORK/ids.txt" ;;
    post) mode=post; arg="" ;;
    list:*) p="${ep#list:}"; [[ "$p" == mid ]] && p=$MID_PAGE
      mode=path; arg="/api/v1/projects?page=$p&limit=$LIMIT" ;;
  esac
  wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s bench/featwright.lua "http://$HOST:$PORT" -- "$mode" "$TOKEN" "$arg" >/dev/null
  for r in $(seq 1 "$RUNS"); do
    line="$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s bench/featwright.lua \
      "http://$HOST:$PORT" -- "$mode" "$TOKEN" "$arg" | grep '^RESULT')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ep" "$r" "$(field rps <<<"$line")" \
      "$(field p50_ms <<<"$line")" "$(field p99_ms <<<"$line")" \
      "$(( $(field non2xx <<<"$line") + $(field sockerr <<<"$line") ))" >>"$TSV"
    echo "  $ep run $r: $line"
  done
done

echo
echo "rows=$ROWS conns=$CONNS runs=$RUNS x ${DURATION}s, medians (baseline: $BASE_TSV)"
printf '| %-9s | %12s | %14s | %6s | %10s | %8s |\n' endpoint "baseline r/s" "featwright r/s" ratio "fw p99 ms" "fw errors"
printf '|%s|\n' "-----------|--------------|----------------|--------|------------|----------"
for ep in $ENDPOINTS; do
  b="$(awk -F'\t' -v e="$ep" '$1==e {print $3}' "$BASE_TSV" | median)"
  f="$(awk -F'\t' -v e="$ep" '$1==e {print $3}' "$TSV" | median)"
  p99="$(awk -F'\t' -v e="$ep" '$1==e {print $5}' "$TSV" | median)"
  errs="$(awk -F'\t' -v e="$ep" '$1==e {s+=$6} END{print s+0}' "$TSV")"
  printf '| %-9s | %12.0f | %14.0f | %6.2f | %10.1f | %8d |\n' "$ep" "$b" "$f" "$(echo "$f / $b" | bc -l)" "$p99" "$errs"
done
