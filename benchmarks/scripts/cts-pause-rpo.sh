#!/usr/bin/env bash
# coordination pause and RPO at about half the maximum throughput, with a secondary site.
# usage: benchmarks/scripts/cts-pause-rpo.sh RATE   (RATE: writes/s, about half the max run it prints first)
# The max run and the measured run use two fresh clusters. The measured cluster first runs
# 20 s at RATE to warm up, then 60 s at RATE: the load samples the RPO every 100 ms
# (load --show-epochs: "rpoMillis" in its JSON), and `admin epochs` at the end gives the pause
# over the latest 240 barriers (one minute at 250 ms: the measured run).
set -euo pipefail
cd "$(dirname "$0")/../.."
d=/tmp/ferry-bench-cts
C=127.0.0.1:7201,127.0.0.1:7202,127.0.0.1:7203
fresh_cluster() {
  ./ferry cluster down --dir $d > /dev/null 2>&1 || true
  rm -rf $d
  ./ferry cluster up --nodes 3 --dir $d --secondary > /dev/null
  for v in v1 v2; do ./ferry admin --cluster $C volume create $v --size 4GiB --region-size 64MiB --secondary 127.0.0.1:7299 > /dev/null; done
}
fresh_cluster
echo "max: $(./ferry load --cluster $C --volumes v1,v2 --size 4KiB --seconds 20 --json)"
fresh_cluster
./ferry load --cluster $C --volumes v1,v2 --size 4KiB --seconds 20 --rate "$1" --json > /dev/null
./ferry load --cluster $C --volumes v1,v2 --size 4KiB --seconds 60 --rate "$1" --show-epochs --json > /tmp/cts-load.json
echo "half: $(cat /tmp/cts-load.json)"
echo "epochs: $(./ferry admin --cluster $C epochs --json | python3 -c "import json,sys;d=json.load(sys.stdin);d.pop('recent');print(d)")"
./ferry cluster down --dir $d > /dev/null
