#!/usr/bin/env bash
# Copies may not grow: counts the pairs of places `duplicates` finds in the tree (six or more lines alike) and fails
# when there are more than .ci/duplicates-baseline allows. The baseline is what the tree held when the check came in
# (mostly generated protobuf code, the per-RPC adapters the generated service protocols ask for, and tests' set-up);
# lower it when a clean-up removes pairs. `duplicates` is a reviewer's tool of this machine, not an apt or pip
# package: where it is missing the check says so and passes, and `duplicates --change` before each commit remains
# the habit.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v duplicates > /dev/null; then
  echo "duplicates is not installed here: the copy check is skipped (run it where the tool is)"
  exit 0
fi
baseline=$(tr -dc '0-9' < .ci/duplicates-baseline)
report=$(duplicates --most 200 --seconds 120)
pairs=$(head -n 1 <<< "$report" | awk '/^no duplicates/ {print 0; exit} {print $1}')
if grep -q '^incomplete:' <<< "$report"; then
  echo "duplicates did not read the whole tree in time:" >&2
  grep '^incomplete:' <<< "$report" >&2
  exit 1
fi
if (( pairs > baseline )); then
  echo "The tree has $pairs pairs of copied lines; .ci/duplicates-baseline allows $baseline. The pairs:" >&2
  echo "$report" >&2
  echo "Fold the new copy into one piece of code (duplicates --change shows what your change added)." >&2
  exit 1
fi
echo "duplicates: $pairs pairs of copied lines, the baseline allows $baseline"
if (( pairs < baseline )); then echo "  (fewer than the baseline: lower .ci/duplicates-baseline to $pairs)"; fi
