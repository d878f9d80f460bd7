#!/usr/bin/env bash
# Installs the interop suite's pinned clients, idempotently (a second run installs nothing):
#   - Debian packages (apt): curl, openssl, golang-go, golang-github-aws-aws-sdk-go-v2-dev
#     (plus python3-venv / nodejs+npm only if this machine lacks a usable python3 or node);
#   - Python clients in tests/interop/.venv from requirements.txt (== pins);
#   - Node clients in tests/interop/node_modules from package-lock.json (`npm ci`);
#   - the Go client (aws-sdk-go-v2), built offline in GOPATH mode into .work/bin.
# Each step records what it installed from (a hash of its pin file and the tool's version)
# in a stamp file and is skipped while that stays the same.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$HERE/.work"
mkdir -p "$WORK/bin"

log() { printf '[interop setup] %s\n' "$*" >&2; }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- Debian packages ---------------------------------------------------------------------
APT_PACKAGES=(curl openssl golang-go golang-github-aws-aws-sdk-go-v2-dev)
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  APT_PACKAGES+=(python3 python3-venv)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }
missing=()
for package in "${APT_PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    SUDO=(sudo -n)
  fi
  log "apt: installing ${missing[*]} (log: .work/apt.log)"
  if ! { "${SUDO[@]}" apt-get update -qq &&
         "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } </dev/null >"$WORK/apt.log" 2>&1; then
    tail -n 30 "$WORK/apt.log" >&2
    log "apt: installing ${missing[*]} failed"
    exit 1
  fi
else
  log "apt: all present (${APT_PACKAGES[*]})"
fi

# ---- Python venv -------------------------------------------------------------------------
VENV="$HERE/.venv"
py_stamp="$(python3 --version 2>&1) $(sha "$HERE/requirements.txt")"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.k9-interop-stamp" 2>/dev/null)" = "$py_stamp" ]; then
  log "python: .venv up to date"
else
  log "python: creating .venv and installing requirements.txt"
  python3 -m venv --clear "$VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --quiet --no-input -r "$HERE/requirements.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" check >/dev/null
  printf '%s' "$py_stamp" >"$VENV/.k9-interop-stamp"
fi

# ---- Node modules ------------------------------------------------------------------------
node_stamp="$(node --version) $(sha "$HERE/package.json" "$HERE/package-lock.json")"
if [ -d "$HERE/node_modules" ] && [ "$(cat "$HERE/node_modules/.k9-interop-stamp" 2>/dev/null)" = "$node_stamp" ]; then
  log "node: node_modules up to date"
else
  log "node: npm ci"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
  printf '%s' "$node_stamp" >"$HERE/node_modules/.k9-interop-stamp"
fi

# ---- Go client (aws-sdk-go-v2 from Debian, offline GOPATH build) -------------------------
GO_BIN="$WORK/bin/k9-interop-go"
go_stamp="$(go version) $(dpkg-query -W -f='${Version}' golang-github-aws-aws-sdk-go-v2-dev) $(sha "$HERE/clients/go/main.go")"
if [ -x "$GO_BIN" ] && [ "$(cat "$GO_BIN.stamp" 2>/dev/null)" = "$go_stamp" ]; then
  log "go: k9-interop-go up to date"
else
  log "go: building k9-interop-go against /usr/share/gocode (GO111MODULE=off)"
  (
    cd "$HERE/clients/go"
    GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off GOCACHE="$WORK/gocache" \
      go build -o "$GO_BIN" main.go
  )
  printf '%s' "$go_stamp" >"$GO_BIN.stamp"
fi
