#!/usr/bin/env bash
# Runs the whole test suite RUNS times (default 20) while every CPU is kept
# busy by a spinning process, and reports the runs and the failures per
# test. A test that fails here even once is flaky: it checks a speed the
# machine does not promise, or has a race. Usage:
#   bash scripts/flaky-sweep.sh [RUNS] [OUT.json]
# (after scripts/setup.sh; builds the TypeScript first).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
out=${2:-}
tmp=$(mktemp -d)
hogs=()
cleanup() {
  for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

npm run -s build:ts >/dev/null
cpus=$(nproc)
for ((c = 0; c < cpus; c++)); do
  # Not pinned: the kernel moves them as it likes, as a neighbour's load would.
  node -e 'for (;;) {}' &
  hogs+=($!)
done
echo "flaky sweep: $runs runs of the suite, $cpus spinning processes on $cpus CPUs"
for ((i = 1; i <= runs; i++)); do
  start=$(date +%s)
  node test/run.mjs --json "$tmp/run-$i.json" >"$tmp/run-$i.log" 2>&1 || true
  echo "run $i: $(tail -n 1 "$tmp/run-$i.log") ($(($(date +%s) - start)) s)"
done
node - "$tmp" "$runs" "$out" <<'JS'
const [dir, runs, out] = process.argv.slice(2);
const fs = require('node:fs');
const perTest = {};
const totals = [];
for (let i = 1; i <= +runs; i++) {
  let r;
  try { r = JSON.parse(fs.readFileSync(`${dir}/run-${i}.json`, 'utf8')); } catch { r = { passed: 0, failed: 1, skipped: 0, failures: ['the runner itself failed (no summary)'] }; }
  totals.push({ run: i, passed: r.passed, failed: r.failed, skipped: r.skipped });
  for (const f of r.failures) perTest[f] = (perTest[f] ?? 0) + 1;
}
const failedRuns = totals.filter((t) => t.failed > 0).length;
console.log(`\n${runs} runs, ${failedRuns} with a failure`);
for (const [t, n] of Object.entries(perTest).sort((a, b) => b[1] - a[1])) console.log(`  ${n}x ${t}`);
if (out) fs.writeFileSync(out, JSON.stringify({ runs: +runs, load: 'one spinning node process per CPU', failedRuns, failuresPerTest: perTest, totals }, null, 2) + '\n');
process.exit(failedRuns === 0 ? 0 : 1);
JS
