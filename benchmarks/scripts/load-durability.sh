#!/usr/bin/env bash
# runs the data-path load figures of docs/BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
C=127.0.0.1:7201,127.0.0.1:7202,127.0.0.1:7203
for mode in durable mirrored; do
  d=/tmp/ferry-bench-$mode; rm -rf $d
  ./ferry cluster up --nodes 3 --dir $d --set data.durability=$mode > /dev/null
  ./ferry admin --cluster $C volume create v1 --size 4GiB --region-size 64MiB > /dev/null
  ./ferry admin --cluster $C volume create v2 --size 4GiB --region-size 64MiB > /dev/null
  ./ferry load --cluster $C --volumes v1,v2 --size 4KiB --seconds 10 --json > /dev/null  # warm-up
  for sz in 4KiB 64KiB; do
    echo "$mode $sz $(./ferry load --cluster $C --volumes v1,v2 --size $sz --seconds 20 --inflight 64 --json)"
  done
  ./ferry cluster down --dir $d > /dev/null
done
