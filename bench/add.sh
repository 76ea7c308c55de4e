#!/usr/bin/env bash
# `featwright add` wall time: a new doc, the same doc changed, and unchanged, RUNS times each,
# in a throwaway copy of the project (reset between runs). Prints min / median / max.
# Usage: bench/add.sh [RUNS]   (from the repository root, after `make install`)
set -euo pipefail
RUNS=${1:-5}
ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git ls-files -z | (cd "$ROOT" && xargs -0 cp --parents -t "$WORK")
cd "$WORK"
git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm base
export PYTHONPATH=$WORK SECRET_KEY=$(python3 -c 'print("k" * 40)')
featwright() { "$ROOT/.venv/bin/python" -c 'from src.cli import app; app()' "$@" >/dev/null; }
featwright doc new labels
DOC=$(ls docs/features/FEAT-*-labels.md)
git add -A && git -c user.name=b -c user.email=b@b commit -qm doc
seconds() {
  local start=$EPOCHREALTIME
  "$@"
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}
declare -A times
for _ in $(seq "$RUNS"); do
  git reset -q --hard && git clean -qfdx -e .venv
  times[new]+="$(seconds featwright add "$DOC") "
  sed -i 's/| name | str(1..200) | yes | - | Display name |/| name | str(1..100) | yes | - | Display name |\n| color | str(..20) | no | - | A colour |/' "$DOC"
  times[changed]+="$(seconds featwright add "$DOC") "
  times[unchanged]+="$(seconds featwright add "$DOC") "
done
for kind in new changed unchanged; do
  echo "$kind: $(echo "${times[$kind]}" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "min %.2f s, median %.2f s, max %.2f s (%d runs)", a[1], a[int((NR+1)/2)], a[NR], NR}')"
done
