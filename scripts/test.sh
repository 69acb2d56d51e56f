#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing: node_modules (which holds
# s3rver, the S3-compatible server), and the Debian packages of the independent TFTP clients
# (curl, tftp-hpa, atftp, busybox) and of redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v tftp >/dev/null || missing+=(tftp-hpa)
command -v atftp >/dev/null || missing+=(atftp)
command -v busybox >/dev/null || missing+=(busybox)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi

[ -d node_modules ] || npm ci
npm run build --silent
npx tsc --noEmit -p tsconfig.json
npx vitest run "$@"
