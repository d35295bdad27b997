#!/usr/bin/env bash
# Load figures for the pages a shopper hits most, against a release build
# on the embedded database. Bounded: a few seconds per page, loopback only.
#   bash bench/run.sh            (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
data=$(mktemp -d)
port=18400
KASSA_BIND=127.0.0.1:$port KASSA_DATA_DIR="$data" KASSA_SANDBOX__BIND=127.0.0.1:18401 \
  RUST_LOG=warn ./target/release/kassa &
pid=$!
trap 'kill $pid; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
for path in /healthz / /products/hand-grinder /cart; do
  echo "== GET $path"
  wrk -t2 -c32 -d5s "http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency"
done
echo "== resident memory after the runs"
ps -o rss= -p $pid | awk '{printf "%.1f MiB\n", $1/1024}'
