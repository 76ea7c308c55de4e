#!/usr/bin/env bash
# CPU instructions per request, featwright against the baseline, counted by callgrind
# (bench/instructions.py says what is and is not counted). Deterministic, unlike req/s on a
# shared machine: use it to see what one change bought, and `make bench` for the served figures.
#
#   bench/instructions.sh                        # GET by id and POST, both apps
#   REQUESTS=400 ENDPOINTS=post bench/instructions.sh
#
# Needs valgrind and its headers (Debian: valgrind) and gcc; installs valgrind as root.
# Uses the baseline's throwaway PostgreSQL (../shared/bench/pg.sh, 127.0.0.1:55432), as
# bench/run.sh does, and stops it again if it started it. Each count takes about 30 s.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/featwright-bench}"
ENDPOINTS="${ENDPOINTS:-get post}"
export REQUESTS="${REQUESTS:-200}" WARMUP_REQUESTS="${WARMUP_REQUESTS:-100}"

if [[ ! -f /usr/include/valgrind/callgrind.h ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "instructions: valgrind not found; install it with: sudo apt-get install valgrind" >&2
    exit 1
  fi
fi
make -C "$ROOT" --no-print-directory install >/dev/null
mkdir -p "$WORK"
rm -rf "$WORK/baseline" && cp -r "$SHARED" "$WORK/baseline" && chmod -R u+w "$WORK/baseline"
BASE="$WORK/baseline"
[[ -x "$WORK/venv/bin/python" ]] ||
  { python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q -r "$BASE/requirements.txt"; }

# cg_start/cg_stop: callgrind's client requests, so only the measured loop is instrumented.
cat >"$WORK/callgrind_control.c" <<'EOF'
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
EOF
gcc -shared -fPIC -O2 -o "$WORK/callgrind_control.so" "$WORK/callgrind_control.c"
export CALLGRIND_CONTROL="$WORK/callgrind_control.so"

PG_STARTED=0
cleanup() { if [[ "$PG_STARTED" == 1 ]]; then "$BASE/pg.sh" stop || true; fi; }
trap cleanup EXIT
if ! "$BASE/pg.sh" status >/dev/null 2>&1; then "$BASE/pg.sh" start; PG_STARTED=1; fi
psql() { command psql -h 127.0.0.1 -p 55432 -U bench -d bench -qAt "$@"; }
psql -c "DROP DATABASE IF EXISTS featwright_instructions WITH (FORCE)"
psql -c "CREATE DATABASE featwright_instructions"
export DATABASE_URL="postgresql+asyncpg://bench@127.0.0.1:55432/featwright_instructions"
export SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BENCH_DSN="postgresql://bench@127.0.0.1:55432/bench" LOG_LEVEL=warning
(cd "$ROOT" && .venv/bin/featwright db upgrade >/dev/null 2>&1)

count() {  # target python endpoint -> instructions per request
  local collected
  collected=$(cd "$ROOT" && PYTHONPATH="$BASE" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file=/dev/null "$2" bench/instructions.py "$1" "$3" 2>&1 |
    awk '/Collected :/ {print $NF}')
  [[ -n "$collected" ]] || { echo "instructions: $1 $3 did not run" >&2; exit 1; }
  echo $((collected / REQUESTS))
}

printf '%-9s %14s %14s %7s\n' endpoint baseline featwright ratio
for endpoint in $ENDPOINTS; do
  base=$(count baseline "$WORK/venv/bin/python" "$endpoint")
  fw=$(count featwright "$ROOT/.venv/bin/python" "$endpoint")
  printf '%-9s %14s %14s %7s\n' "$endpoint" "$base" "$fw" \
    "$(awk -v b="$base" -v f="$fw" 'BEGIN {printf "%.2f", b / f}')"
done
echo "(instructions per request, in-process, $REQUESTS requests after $WARMUP_REQUESTS;" \
  "ratio = baseline / featwright, as req/s would be if only the app's CPU counted)"
