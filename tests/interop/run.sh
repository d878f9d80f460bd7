#!/usr/bin/env bash
# k9 interop suite: independent SigV4 clients against a real `k9 serve` over TLS.
#
#   tests/interop/run.sh
#
# Installs the pinned clients (setup.sh; idempotent), builds k9, generates a throwaway
# self-signed certificate, starts `k9 serve` on a free loopback port with a fresh data
# directory, provisions it with `k9 admin`, runs every client's checks (driver.py), prints
# the table and exits non-zero if any check failed. The server is stopped on exit.
#
# Environment: K9_INTEROP_CLIENTS=name,... runs only some clients; K9_INTEROP_VERBOSE=1
# prints every exchange; K9_INTEROP_KEEP=1 keeps the scratch directory (data, cert, log).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS=0
log() { printf '[interop] %s\n' "$*" >&2; }

bash "$HERE/setup.sh"

log "building k9 (cargo build -p k9-cli)"
(cd "$ROOT" && cargo build --quiet -p k9-cli)
TARGET_DIR="$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 |
  "$HERE/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
K9_BIN="$TARGET_DIR/debug/k9"
[ -x "$K9_BIN" ] || { log "no k9 binary at $K9_BIN"; exit 1; }

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/k9-interop.XXXXXX")"
SERVER_PID=""
cleanup() {
  local status=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$SCRATCH/server.log" ]; then
    log "server log (last 40 lines of $SCRATCH/server.log):"
    tail -n 40 "$SCRATCH/server.log" >&2 || true
  fi
  if [ "${K9_INTEROP_KEEP:-0}" = 1 ]; then
    log "kept $SCRATCH"
  else
    rm -rf "$SCRATCH"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A throwaway self-signed certificate for 127.0.0.1 (not a CA: clients trust it directly).
mkdir -p "$SCRATCH/tls"
cat >"$SCRATCH/tls/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = k9 interop test (throwaway)
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
EOF
openssl req -x509 -config "$SCRATCH/tls/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -nodes -days 2 -keyout "$SCRATCH/tls/key.pem" -out "$SCRATCH/tls/cert.pem" 2>/dev/null
CERT="$SCRATCH/tls/cert.pem"

free_port() {
  "$HERE/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start the server on a free port (retried if another process takes the port meanwhile).
for attempt in 1 2 3; do
  PORT="$(free_port)"
  ENDPOINT="https://127.0.0.1:$PORT"
  NO_COLOR=1 K9_LOG=info "$K9_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$SCRATCH/data" \
    --tls-cert "$CERT" --tls-key "$SCRATCH/tls/key.pem" </dev/null >>"$SCRATCH/server.log" 2>&1 &
  SERVER_PID=$!
  ready=0
  for _ in $(seq 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    if curl -fsS --max-time 2 --cacert "$CERT" "$ENDPOINT/health" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
  done
  [ "$ready" = 1 ] && break
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  log "server did not become ready on port $PORT (attempt $attempt)"
  tail -n 5 "$SCRATCH/server.log" >&2 || true
done
[ -n "$SERVER_PID" ] || { log "could not start k9 serve"; exit 1; }
log "k9 serve is up at $ENDPOINT (pid $SERVER_PID, data $SCRATCH/data)"

status=0
K9_BIN="$K9_BIN" K9_DATA_DIR="$SCRATCH/data" K9_INTEROP_ENDPOINT="$ENDPOINT" K9_INTEROP_CA="$CERT" \
  K9_INTEROP_SCRATCH="$SCRATCH" K9_INTEROP_GO_BIN="$HERE/.work/bin/k9-interop-go" \
  "$HERE/.venv/bin/python" "$HERE/driver.py" </dev/null || status=$?
log "finished in ${SECONDS}s (exit $status)"
exit "$status"
