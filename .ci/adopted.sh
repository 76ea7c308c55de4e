#!/usr/bin/env bash
# A project stays green after its first features: copy this checkout (the files git lists),
# add two realistic features from design docs with no hand edits (tests/adopted: work logs
# that reference tasks, and invoices that reference work logs), then run `make lint` and
# `make test` there, as the user's own CI would.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z --cached --others --exclude-standard | (cd "$root" && xargs -0 cp --parents -t "$work")
cd "$work"
git init -q  # the suite lists the project's files with git
make --no-print-directory install-dev
.venv/bin/python tests/adopted/adopt.py
make --no-print-directory lint
.venv/bin/featwright check
TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/featwright_adopted" \
  make --no-print-directory test
