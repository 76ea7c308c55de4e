#!/usr/bin/env bash
# Shared rows against owned ones (bench/teams.py says what it measures): GET and list page 1 of
# a shared model, whose every statement checks membership, and of an owned model, interleaved.
#
#   bench/teams.sh                                # 1,000 projects x 100 members, 1,000 notes
#   RUNS=1 DURATION=3 bench/teams.sh              # a quick look
#
# Knobs (env, defaults): USERS=1000 CONTAINERS=1000 MEMBERS=100 RUNS=3 DURATION=10 WARMUP=3
#   CONNS=32 PORT=8314, BENCH_WORK, SHARED_BENCH.
# It runs as bench/relations.sh does (wrk, the baseline's throwaway PostgreSQL on 127.0.0.1:55432,
# here database featwright_teams) and writes bench/results/teams.json.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
export DRIVER=teams PORT="${PORT:-8314}"
exec "$(dirname "$0")/relations.sh"
