#!/usr/bin/env bash
# Runs the README's "Running several nodes" recipe as written (the shell
# block under that heading), then checks that both nodes and the sandbox
# answer and that a shopper can fill a cart on one node and see it on the
# other. Usage: tests/recipes/two_nodes.sh [path/to/kassa]
# With a binary given, `cargo build --release` is skipped and that binary
# stands in for ./target/release/kassa. Everything it starts is stopped at
# the end; traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-}
work=$(mktemp -d)
group=""
# The recipe runs in a process group of its own: all of it stops at the end.
stop() {
  if [ -n "$group" ]; then
    kill -TERM -- "-$group" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$group" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

# The recipe: the indented block after the heading, up to the next prose.
awk '/^## Running several nodes/{on=1; next} on && /^## /{exit}
     on && /^    /{sub(/^    /, ""); print; started=1; next}
     on && started && NF {exit}' README.md >"$work/recipe.sh"
[ -s "$work/recipe.sh" ] || { echo "no recipe found in README.md"; exit 1; }

# A fresh database each run; the recipe creates it.
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS kassa WITH (FORCE)" >/dev/null 2>&1
if [ -n "$bin" ]; then
  sed -i -e '/^cargo build --release$/d' -e "s#\./target/release/kassa#$bin#g" "$work/recipe.sh"
fi
echo "running the README recipe:"
sed 's/^/  | /' "$work/recipe.sh"
for port in 8081 8082 8090; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "FAILED: port $port is taken before the recipe runs"
    exit 1
  fi
done
setsid bash -c 'cd "$1" && source ./recipe.sh && wait' _ "$work" >"$work/nodes.log" 2>&1 &
group=$!

ready() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
for _ in $(seq 1 60); do
  ready http://127.0.0.1:8081/readyz && ready http://127.0.0.1:8082/readyz &&
    ready http://127.0.0.1:8090/console && break
  sleep 0.5
done
for url in http://127.0.0.1:8081/readyz http://127.0.0.1:8082/readyz http://127.0.0.1:8090/console; do
  if ! ready "$url"; then
    echo "FAILED: $url does not answer"
    cat "$work/nodes.log"
    exit 1
  fi
done

# One shopper (one cookie jar): add on node 1, the cart shows on node 2.
jar="$work/cookies"
page=$(curl -fsS -c "$jar" -b "$jar" http://127.0.0.1:8081/)
token=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$page" | head -n 1 | sed 's/.*value="//; s/"$//')
curl -fsS -o /dev/null -c "$jar" -b "$jar" \
  --data-urlencode "product_id=hand-grinder" --data-urlencode "quantity=2" \
  --data-urlencode "csrf_token=$token" http://127.0.0.1:8081/cart/add
if ! curl -fsS -c "$jar" -b "$jar" http://127.0.0.1:8082/cart | grep -q 'data-testid="cart-count">2<'; then
  echo "FAILED: the cart filled on node 1 is not on node 2"
  cat "$work/nodes.log"
  exit 1
fi
echo "two nodes and the sandbox run as the README says: 1 passed, 0 failed"
