#!/usr/bin/env bash
# Records a benchmark: runs it against the last commit, built in a private
# directory, so that edits and builds in this tree (other people's test runs
# rebuild dist/) can neither break it nor change the code halfway through,
# and the result names the code it measured. The bench/ files come from the
# working tree (a new benchmark can be run before it is committed); the
# result files it writes are copied back into bench/results/.
#
#   scripts/bench.sh bench/timers.mjs --runs 5
#
# To measure uncommitted code instead, run the benchmark in the tree itself
# (node bench/timers.mjs ...): the result then records the commit it was
# run at, not the changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$root" rev-parse --short HEAD)
build=/tmp/gatio-bench-$commit
if [ ! -e "$build/.built" ]; then
  rm -rf "$build"
  mkdir -p "$build"
  git -C "$root" archive HEAD | tar -x -C "$build"
  ln -s "$root/node_modules" "$build/node_modules"
  (cd "$build" && npm run build:native >/dev/null 2>&1 && npm run build:ts >/dev/null 2>&1) || { echo "bench: building commit $commit in $build failed" >&2; exit 1; }
  touch "$build/.built"
fi
rm -rf "$build/bench"
cp -r "$root/bench" "$build/bench"
touch "$build/.started"
cd "$build"
GATIO_COMMIT=$commit node "$@"
find bench/results -type f -newer .started -exec cp {} "$root/bench/results/" \;
