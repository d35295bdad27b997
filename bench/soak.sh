#!/usr/bin/env bash
# The chaos soak: two shop nodes on PostgreSQL and Redis and one sandbox
# provider that drops, delays, duplicates and reorders webhooks and fails a
# share of API calls; shoppers walking whole journeys (cash on delivery,
# card, convenience store) and the warehouse delivering through the orders
# API, while one node is killed (kill -9) and restarted every KILL_EVERY
# seconds. Then it waits for the shop to settle and checks the invariants
# against the database, the provider's books and the mails written.
#
# Usage: bench/soak.sh [DURATION_SECONDS] [KILL_EVERY_SECONDS] [SHOPPERS]
#   (defaults 120, 20, 4; each shopper pauses THINK_MS, default 500,
#   between journeys). Exits 1 on any violation.
# SOAK_KASSA_BIN / SOAK_LOADGEN_BIN: use these binaries instead of building them.
# Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis
# (127.0.0.1:6379); takes ports 8081, 8082 and 8090 and the database
# kassa_soak. Loopback only; everything it starts stops at the end. The
# run's logs stay in the directory it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-120}
kill_every=${2:-20}
shoppers=${3:-4}
think_ms=${THINK_MS:-500}
database=kassa_soak
initial_stock=1000000

if [ -z "${SOAK_KASSA_BIN:-}" ]; then
  nice -n 10 cargo build --release --quiet
  SOAK_KASSA_BIN=${CARGO_TARGET_DIR:-target}/release/kassa
fi
if [ -z "${SOAK_LOADGEN_BIN:-}" ]; then
  (cd bench/loadgen && nice -n 10 cargo build --release --quiet)
  SOAK_LOADGEN_BIN=${CARGO_TARGET_DIR:-bench/loadgen/target}/release/kassa-loadgen
fi
kassa=$(realpath "$SOAK_KASSA_BIN")
loadgen=$(realpath "$SOAK_LOADGEN_BIN")

work=$(mktemp -d -t kassa-soak.XXXXXX)
echo "soak: ${duration}s, a node killed every ${kill_every}s, ${shoppers} shoppers pausing ${think_ms} ms; logs in $work"
declare -A pids=()
loadgen_pid=""
stop() {
  for pid in "${pids[@]}" $loadgen_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 1
  for pid in "${pids[@]}" $loadgen_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap stop EXIT

for port in 8081 8082 8090; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "FAILED: port $port is taken"
    exit 1
  fi
done

psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $database" >/dev/null

export KASSA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$database
export KASSA_SESSION__STORE=redis KASSA_SESSION__URL=redis://127.0.0.1:6379
KASSA_SESSION__KEY=$(openssl rand -hex 64)
KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET=$(openssl rand -hex 32)
export KASSA_SESSION__KEY KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET
# Where shoppers reach the shop, as behind a load balancer: node 1's
# address. Every node sends the provider the same return and webhook
# links, so a provider session one node began can be asked for again by
# the other with the same idempotency key (with a link of its own it was
# refused as the key reused with another body); a webhook sent while node
# 1 is down is sent again by the provider, and the shoppers take a link
# of either node to the node they are on.
export KASSA_PUBLIC_URL=http://127.0.0.1:8081
export KASSA_SANDBOX__SERVE_BESIDE_SHOP=false
export KASSA_PAYMENT__HOSTED__API_URL=http://127.0.0.1:8090
export KASSA_REGISTRATION__URL=http://127.0.0.1:8090
# Both nodes share one data dir: the mails land in one place.
export KASSA_DATA_DIR=$work/data
export KASSA_SHOP__DEMO_STOCK=$initial_stock
# Cards are reserved at checkout and captured when delivered.
export KASSA_PAYMENT__HOSTED__CAPTURE=manual
# What a real shop waits hours for happens within the run: asking the
# provider about unreported payments, giving up abandoned registrations.
export KASSA_PAYMENT__HOSTED__RECONCILE_AFTER_MS=5000
export KASSA_REGISTRATION__ABANDON_AFTER_MS=60000
export KASSA_OUTBOX__RETRY_MAX_MS=5000
export KASSA_PLACEORDER__LEASE_MS=10000
export KASSA_PLACEORDER__SWEEP_INTERVAL_MS=2000
# The provider's bad day (read by `kassa sandbox` only).
export KASSA_SANDBOX__CHAOS__DROP_SHARE=${CHAOS_DROP:-0.1}
export KASSA_SANDBOX__CHAOS__DUPLICATE_SHARE=${CHAOS_DUPLICATE:-0.2}
export KASSA_SANDBOX__CHAOS__DELAY_MAX_MS=${CHAOS_DELAY_MS:-1500}
export KASSA_SANDBOX__CHAOS__REORDER_WINDOW_MS=${CHAOS_REORDER_MS:-2000}
export KASSA_SANDBOX__CHAOS__FAIL_SHARE=${CHAOS_FAIL:-0.05}
export KASSA_SANDBOX__CHAOS__SEED=${CHAOS_SEED:-42}
export RUST_LOG=${RUST_LOG:-warn}

"$kassa" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log"; exit 1; }
api_key=$("$kassa" admin api-key soak-warehouse 2>>"$work/migrate.log" | tail -n 1)
[ -n "$api_key" ] || { echo "FAILED: no API key"; exit 1; }

"$kassa" sandbox >"$work/sandbox.log" 2>&1 &
pids[sandbox]=$!
start_node() {
  "$kassa" --bind "127.0.0.1:808$1" >>"$work/node$1.log" 2>&1 &
  pids[node$1]=$!
}
ready() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
wait_ready() {
  for _ in $(seq 1 100); do
    ready "$1" && return 0
    sleep 0.2
  done
  echo "FAILED: $1 does not answer"
  exit 1
}
start_node 1
start_node 2
wait_ready http://127.0.0.1:8090/console
wait_ready http://127.0.0.1:8081/readyz
wait_ready http://127.0.0.1:8082/readyz

LOADGEN_API_KEY=$api_key "$loadgen" soak \
  --node http://127.0.0.1:8081,http://127.0.0.1:8082 --sandbox http://127.0.0.1:8090 \
  --shoppers "$shoppers" --think-ms "$think_ms" --seconds "$duration" \
  --summary "$work/summary.json" \
  >"$work/loadgen.log" 2>&1 &
loadgen_pid=$!

# The killer: one node at random, kill -9, back up a moment later.
kills=0
end=$((SECONDS + duration))
next_kill=$((SECONDS + kill_every))
while kill -0 "$loadgen_pid" 2>/dev/null; do
  sleep 1
  if [ "$SECONDS" -ge "$next_kill" ] && [ "$SECONDS" -lt "$end" ]; then
    n=$((RANDOM % 2 + 1))
    kill -KILL "${pids[node$n]}" 2>/dev/null || true
    wait "${pids[node$n]}" 2>/dev/null || true
    kills=$((kills + 1))
    echo "  $(date -u +%T) killed node $n (kill -9 #$kills)"
    sleep 1
    start_node "$n"
    next_kill=$((SECONDS + kill_every))
  fi
done
loadgen_status=0
wait "$loadgen_pid" || loadgen_status=$?
loadgen_pid=""
if [ "$loadgen_status" -ne 0 ]; then
  echo "FAILED: the load generator stopped with $loadgen_status"
  tail -n 20 "$work/loadgen.log"
  exit 1
fi
echo "  load done ($(grep -c "" "$work/loadgen.log") lines in $work/loadgen.log); waiting for the shop to settle"
wait_ready http://127.0.0.1:8081/readyz
wait_ready http://127.0.0.1:8082/readyz

# The nodes keep running while the check waits for them to settle.
"$loadgen" check --database "$KASSA_DATABASE_URL" --sandbox http://127.0.0.1:8090 \
  --mail-dir "$work/data/mail" --initial-stock "$initial_stock" \
  --summary "$work/summary.json" --kills "$kills" --settle-seconds "${SETTLE_SECONDS:-180}"
