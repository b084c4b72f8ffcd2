#!/usr/bin/env bash
# Where an HTTP server's CPU goes at -c50 (docs/benchmarks.md, HTTP):
# for gatio's fast handler and uWebSockets.js, the server on CPU 0 and
# `wrk -t1 -c50` on CPU 1, as bench/http.mjs runs them, it prints
#  - the TCP segments and received bytes per request (nstat around a 3 s run),
#  - the server's CPU split between the kernel and user space (perf record, 3 s).
# Needs wrk, nstat (iproute2) and perf (linux-perf), as root.
#
#   bash bench/http-profile.sh > bench/results/http-profile.txt
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk nstat perf; do command -v $tool >/dev/null || { echo "http-profile: needs $tool" >&2; exit 2; }; done
echo "# bash bench/http-profile.sh ($(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(uname -r))"
port=19600
for srv in "gatio fast:node bench/http/gatio.mjs PORT 0 fast" "uWebSockets:node bench/http/uws.mjs PORT"; do
  name=${srv%%:*}; cmd=${srv#*:}; cmd=${cmd//PORT/$port}
  taskset -c 0 $cmd > /tmp/http-profile-server.log 2>&1 &
  pid=$!
  for _ in $(seq 50); do grep -q ready /tmp/http-profile-server.log 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c50 -d1s "http://127.0.0.1:$port/" > /dev/null # warm-up
  nstat -n
  out=$(taskset -c 1 wrk -t1 -c50 -d3s "http://127.0.0.1:$port/")
  n=$(grep -oE '[0-9]+ requests in' <<<"$out" | cut -d' ' -f1)
  segs=$(nstat | awk '$1 == "TcpOutSegs" { print $2 }')
  echo
  echo "## $name: $n requests in 3 s; $(awk -v s="$segs" -v n="$n" 'BEGIN { printf "%.2f", s / n }') TCP segments sent per request (both ends)"
  (taskset -c 1 wrk -t1 -c50 -d5s "http://127.0.0.1:$port/" > /dev/null &)
  sleep 1
  perf record -q -F 2000 -g -p "$pid" -o /tmp/http-profile.perf -- sleep 3 2>/dev/null
  perf report -i /tmp/http-profile.perf --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9]' | head -6 | sed 's/^/  /'
  sleep 2
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  port=$((port + 1))
done
