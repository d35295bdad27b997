#!/usr/bin/env bash
# Counts that do not move with the machine's speed, for comparing two
# builds where timings drift by more than a change saves (a shared VM):
#   instructions PATH [N]  user-space instructions per request of PATH
#                          (session with a cart, browser Accept-Encoding),
#                          under callgrind
#   flows [N]              user-space instructions per guest checkout by
#                          cash (one shopper), under callgrind
#   syscalls [N]           system calls and thread switches per guest
#                          checkout by cash (one shopper), by perf stat
# A build is counted on a fresh SQLite database with the demo catalogue and
# a separate sandbox, as bench/run.sh starts them. Counts of two builds
# compare when taken the same way; flows pick 1-3 products at random, so
# take N of 100 or more for them.
#
# Usage: bench/counts.sh BINARY instructions|flows|syscalls [ARG...]
#   BINARY: a release build of kassa; BENCH_LOADGEN_BIN: the load
#   generator (else built). Needs valgrind and perf (linux-perf).
# Loopback only (ports 18400 and 18401); bounded; stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,20p' "$0"; exit 2; }
kassa=$(realpath "$1")
what=$2
shift 2
port=18400
sandbox_port=18401
shop=http://127.0.0.1:$port

name=counts
. bench/lib.sh
bench_loadgen
bench_work
export KASSA_DATA_DIR=$work/data
unset KASSA_DATABASE_URL
mkdir -p "$work/data"
bench_sandbox

# The shop, under callgrind (instrumented only when asked) or as it is.
start_shop() {
  if [ "$1" = callgrind ]; then
    valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$work/callgrind.out" \
      "$kassa" --bind 127.0.0.1:$port >"$work/kassa.log" 2>&1 &
  else
    "$kassa" --bind 127.0.0.1:$port >"$work/kassa.log" 2>&1 &
  fi
  node=$!
  pids+=($node)
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$shop/" 2>/dev/null && break
    kill -0 "$node" 2>/dev/null || { cat "$work/kassa.log"; exit 1; }
    sleep 0.1
  done
  until curl -fsS -o /dev/null "http://127.0.0.1:$sandbox_port/console" 2>/dev/null; do sleep 0.05; done
}

checkouts() {
  "$loadgen" flows --node "$shop" --kind cash_on_delivery --shoppers 1 --count "$1" \
    --summary "$work/flows.json" 2>>"$work/loadgen.log"
  # Their mails and registrations are theirs too.
  for _ in $(seq 1 300); do
    [ "$(sqlite3 "$work/data/kassa.db" "SELECT count(*) FROM outbox WHERE status = 'pending'")" = 0 ] && return
    sleep 0.2
  done
  echo "counts: the outbox did not drain within a minute" >&2
  exit 1
}

# Instructions counted between `callgrind_control -i on` and the dump.
counted() {
  callgrind_control -d "$node" >/dev/null 2>&1
  callgrind_control -i off "$node" >/dev/null 2>&1
  sleep 1
  local out
  out=$(ls -t "$work"/callgrind.out.* | head -n 1)
  callgrind_annotate "$out" >"$work/annotated.txt" 2>/dev/null
  awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$work/annotated.txt"
}

case $what in
  instructions)
    path=${1:-/checkout}
    n=${2:-200}
    start_shop callgrind
    cookie=$(bench_cart_session "$work/jar")
    get() { curl -fsS -o /dev/null -H "$cookie" -H "Accept-Encoding: gzip, deflate, br, zstd" "$shop$path"; }
    # Warm: the worker's kept chunks and caches, as under load.
    for _ in $(seq 1 20); do get; done
    callgrind_control -i on "$node" >/dev/null 2>&1
    callgrind_control -z "$node" >/dev/null 2>&1
    for _ in $(seq 1 "$n"); do get; done
    total=$(counted)
    echo "$path: $((total / n)) user instructions per request ($n requests)"
    ;;
  flows)
    n=${1:-100}
    start_shop callgrind
    checkouts 10
    callgrind_control -i on "$node" >/dev/null 2>&1
    callgrind_control -z "$node" >/dev/null 2>&1
    checkouts "$n"
    total=$(counted)
    echo "cash checkout, one shopper: $((total / n)) user instructions per checkout ($n checkouts)"
    ;;
  syscalls)
    n=${1:-200}
    start_shop plain
    checkouts 50
    events=""
    for s in pwrite64 pread64 fcntl fdatasync futex getrandom write sendto recvfrom epoll_wait; do
      events+="syscalls:sys_enter_$s,"
    done
    perf stat -e "${events}context-switches" -p "$node" -o "$work/perf.txt" &
    perf=$!
    sleep 0.3
    checkouts "$n"
    kill -INT "$perf"
    wait "$perf" || true
    echo "cash checkout, one shopper, per checkout ($n checkouts):"
    awk -v n="$n" '/syscalls:|context-switches/ {
      gsub(",", "", $1); sub("syscalls:sys_enter_", "", $2); printf "  %s %.1f\n", $2, $1 / n }' \
      "$work/perf.txt"
    ;;
  *)
    echo "counts: instructions, flows or syscalls"
    exit 2
    ;;
esac
