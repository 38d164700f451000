#!/bin/sh
# Tools the agent-transport tests call (crates/sentari-server/tests/agent_transport.rs):
# `openssl verify`/`openssl pkey` check the CA and device certificates, curl checks the HTTPS web
# listener. Idempotent; Debian 12; run as root.
set -eu
missing=""
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ca-certificates
fi
