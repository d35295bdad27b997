#!/usr/bin/env bash
# The benchmark: a release build on a fresh database with the demo
# catalogue (unlimited stock), a separate sandbox provider, and one table:
#   - pages under wrk (32 connections): req/s, p50, p99, server CPU per
#     request and the ratio to /healthz; the shop's pages are asked for
#     as a browser does (a session with a cart, Accept-Encoding);
#   - whole guest checkouts (cash on delivery, and card through the
#     sandbox) at 1, 8, 32 and 128 shoppers: flows/s, p50/p99 per flow,
#     server CPU and commits per flow, and orders in the database against
#     flows started (a difference fails the run);
#   - cold start (a fresh database to the first page) and resident memory.
#
# Usage: bench/run.sh [POSTGRES_URL]
#   With a URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) it runs
#   on SQLite, then on PostgreSQL in the database kassa_bench on that server.
#   BENCH_SECONDS: seconds per page (default 5); BENCH_FLOWS: checkouts per
#   row (default 200); BENCH_KASSA_BIN / BENCH_LOADGEN_BIN: use these
#   binaries instead of building them. Needs wrk (apt-get install wrk).
# Loopback only (ports 18400 and 18401); bounded; stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_url=${1:-}
seconds=${BENCH_SECONDS:-5}
flows=${BENCH_FLOWS:-200}
port=18400
sandbox_port=18401
shop=http://127.0.0.1:$port
browser_encoding="Accept-Encoding: gzip, deflate, br, zstd"

command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)"; exit 1; }
if [ -z "${BENCH_KASSA_BIN:-}" ]; then
  cargo build --release --quiet
  BENCH_KASSA_BIN=${CARGO_TARGET_DIR:-target}/release/kassa
fi
name=bench
. bench/lib.sh
bench_loadgen
kassa=$(realpath "$BENCH_KASSA_BIN")
bench_work
bench_sandbox

ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
commits() { curl -fsS "$shop/metrics" | awk -v d="$1" '$1 ~ "durability=\""d"\"" {print $2}'; }
millis() { date +%s%3N; }

# wrk's latency in milliseconds ("812.00us", "1.20ms", "1.02s").
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

ceiling=""
# page NAME PATH [HEADER...]: one row of the pages' table.
page() {
  local name=$1 path=$2
  shift 2
  local args=()
  for h in "$@"; do args+=(-H "$h"); done
  local before after out requests rps p50 p99 cpu ratio
  before=$(cpu_ticks "$node")
  out=$(wrk -t2 -c32 -d"${seconds}s" --latency "${args[@]}" "$shop$path")
  after=$(cpu_ticks "$node")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "bench: $path answered other than 2xx/3xx:"
    echo "$out"
    exit 1
  fi
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  cpu=$(awk -v t=$((after - before)) -v r="$requests" -v hz="$ticks_per_second" \
    'BEGIN {printf "%.0f", t / hz * 1e6 / r}')
  [ -n "$ceiling" ] || ceiling=$rps
  ratio=$(awk -v a="$rps" -v b="$ceiling" 'BEGIN {printf "%.0f %%", 100 * a / b}')
  printf "| %s | %s | %s | %s | %s | %s |\n" "$name" "$rps" "$p50" "$p99" "$cpu" "$ratio"
}

in_db() {
  if [ "$backend" = sqlite ]; then
    sqlite3 "$data/kassa.db" "$1"
  else
    psql -qtA "$bench_db" -c "$1"
  fi
}
orders_in_db() { in_db "SELECT count(*) FROM orders"; }

# The flows' background work (registrations confirmed, mails sent) is
# theirs too: waited for, up to a minute, before CPU and commits are read.
background_done() {
  for _ in $(seq 1 300); do
    [ "$(in_db "SELECT count(*) FROM outbox WHERE status = 'pending'")" = 0 ] && return
    sleep 0.2
  done
  echo "bench: the outbox did not drain within a minute" >&2
  failed=1
}

failed=0
# flow KIND SHOPPERS: one row of the checkouts' table.
flow() {
  local kind=$1 shoppers=$2
  local ticks0 durable0 light0 orders0 ticks1 durable1 light1 orders1 summary
  ticks0=$(cpu_ticks "$node") durable0=$(commits durable) light0=$(commits light)
  orders0=$(orders_in_db)
  summary=$work/flows-$kind-$shoppers.json
  "$loadgen" flows --node "$shop" --kind "$kind" --shoppers "$shoppers" --count "$flows" \
    --summary "$summary" 2>>"$work/loadgen.log" || failed=1
  background_done
  ticks1=$(cpu_ticks "$node") durable1=$(commits durable) light1=$(commits light)
  orders1=$(orders_in_db)
  local made=$((orders1 - orders0))
  [ "$made" -eq "$flows" ] || failed=1
  python3 - "$summary" "$kind" "$shoppers" "$flows" "$made" \
    "$((ticks1 - ticks0))" "$ticks_per_second" "$((durable1 - durable0))" "$((light1 - light0))" <<'EOF'
import json, sys
path, kind, shoppers, flows, made, ticks, hz, durable, light = sys.argv[1:]
s = json.load(open(path))
flows, made = int(flows), int(made)
j = s["steps"].get("journey", {"p50_ms": 0, "p99_ms": 0})
cpu_ms = int(ticks) / int(hz) * 1000 / flows
print(f"| {kind} | {shoppers} | {flows / s['seconds']:.0f} | {j['p50_ms']:.1f} | {j['p99_ms']:.1f} "
      f"| {cpu_ms:.2f} | {int(durable) / flows:.1f} | {int(light) / flows:.1f} "
      f"| {made} / {flows}{'' if made == flows else ' MISMATCH'} |")
EOF
}

for backend in sqlite ${pg_url:+postgres}; do
  data=$work/data-$backend
  mkdir -p "$data"
  export KASSA_DATA_DIR=$data
  if [ "$backend" = postgres ]; then
    admin_url=$pg_url
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS kassa_bench WITH (FORCE)" >/dev/null
    psql -q "$admin_url" -c "CREATE DATABASE kassa_bench" >/dev/null
    bench_db=${pg_url%/*}/kassa_bench
    export KASSA_DATABASE_URL=$bench_db
  else
    unset KASSA_DATABASE_URL
  fi
  # Cold start: a fresh database (migrations, demo data) to the first page.
  started=$(millis)
  "$kassa" --bind 127.0.0.1:$port >"$work/kassa-$backend.log" 2>&1 &
  node=$!
  pids+=($node)
  until curl -fsS -o /dev/null "$shop/" 2>/dev/null; do
    kill -0 "$node" 2>/dev/null || { cat "$work/kassa-$backend.log"; exit 1; }
    sleep 0.005
  done
  cold_start=$(($(millis) - started))
  until curl -fsS -o /dev/null "http://127.0.0.1:$sandbox_port/console" 2>/dev/null; do sleep 0.05; done

  # A shopper's session with one product in the cart.
  cookie=$(bench_cart_session "$work/jar-$backend")
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" "$shop/checkout")
  [ "$status" = 200 ] || { echo "bench: /checkout with the cart answered $status"; exit 1; }

  echo
  echo "## $backend ($(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "| page | req/s | p50 ms | p99 ms | server CPU µs/req | of /healthz |"
  echo "|---|---|---|---|---|---|"
  ceiling=""
  page "/healthz" /healthz
  page "/ (new visitor)" / "$browser_encoding"
  page "/" / "$browser_encoding" "$cookie"
  page "/products/hand-grinder" /products/hand-grinder "$browser_encoding" "$cookie"
  page "/cart" /cart "$browser_encoding" "$cookie"
  page "/checkout" /checkout "$browser_encoding" "$cookie"
  echo
  echo "| checkout | shoppers | flows/s | p50 ms | p99 ms | server CPU ms/flow | durable commits/flow | light commits/flow | orders / flows |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for kind in cash_on_delivery card; do
    for shoppers in 1 8 32 128; do
      flow "$kind" "$shoppers"
    done
  done
  echo
  rss=$(ps -o rss= -p "$node" | awk '{printf "%.0f", $1 / 1024}')
  echo "cold start (fresh database to the first page): ${cold_start} ms; resident memory after the runs: ${rss} MB"
  kill "$node"
  wait "$node" 2>/dev/null || true
done

if [ "$failed" -ne 0 ]; then
  echo "bench: FAILED: a flow did not end in an order, or orders differ from flows"
  tail -n 20 "$work/loadgen.log"
  exit 1
fi
