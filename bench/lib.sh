# Shared by bench/run.sh and bench/counts.sh (sourced; `name` names the
# caller in messages, `port`, `sandbox_port` and `shop` are set): the load
# generator, a work directory whose processes stop when the script ends,
# the ports checked free, and the sandbox provider started beside the shop.

# The load generator: BENCH_LOADGEN_BIN, or built.
bench_loadgen() {
  if [ -z "${BENCH_LOADGEN_BIN:-}" ]; then
    (cd bench/loadgen && cargo build --release --quiet)
    BENCH_LOADGEN_BIN=${CARGO_TARGET_DIR:-bench/loadgen/target}/release/kassa-loadgen
  fi
  loadgen=$(realpath "$BENCH_LOADGEN_BIN")
}

# `work` and `pids`; everything in `pids` is stopped and `work` removed on exit.
bench_work() {
  work=$(mktemp -d -t "kassa-$name.XXXXXX")
  pids=()
  trap bench_stop EXIT
  for p in $port $sandbox_port; do
    if curl -s -o /dev/null "http://127.0.0.1:$p/"; then
      echo "$name: port $p is taken"
      exit 1
    fi
  done
}

bench_stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# The sandbox provider of `kassa` on its own port, and the shop's settings
# that point at it (demo stock unlimited).
bench_sandbox() {
  export RUST_LOG=warn KASSA_SHOP__DEMO_STOCK=1000000000
  export KASSA_SANDBOX__SERVE_BESIDE_SHOP=false KASSA_SANDBOX__BIND=127.0.0.1:$sandbox_port
  export KASSA_PAYMENT__HOSTED__API_URL=http://127.0.0.1:$sandbox_port
  export KASSA_REGISTRATION__URL=http://127.0.0.1:$sandbox_port
  KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET=$(openssl rand -hex 32)
  export KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET
  "$kassa" sandbox >"$work/sandbox.log" 2>&1 &
  pids+=($!)
}

# A shopper's session with one product in the cart, in the jar file $1;
# prints the Cookie header that carries it.
bench_cart_session() {
  local jar=$1 csrf
  csrf=$(curl -fsS -c "$jar" -b "$jar" "$shop/" | grep -o 'name="csrf_token" value="[^"]*"' |
    head -n 1 | sed 's/.*value="//; s/"$//')
  curl -fsS -o /dev/null -c "$jar" -b "$jar" \
    --data "product_id=hand-grinder&quantity=1&csrf_token=$csrf" "$shop/cart/add"
  # As a browser follows the redirect: the "added" message is shown once.
  curl -fsS -o /dev/null -c "$jar" -b "$jar" "$shop/cart"
  echo "Cookie: kassa_session=$(awk '$6 == "kassa_session" {print $7}' "$jar")"
}
