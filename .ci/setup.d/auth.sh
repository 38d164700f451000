#!/usr/bin/env bash
# Real identity services for the authentication tests (issue 6):
# - OpenLDAP's slapd and the ldap-utils for crates/sentari-server/tests/auth_ldap.rs, which starts
#   its own slapd on a free loopback port from a seed LDIF (the Debian service is not used and
#   is stopped if the package's postinst started it);
# - oidc-provider-mock (PyPI) for tests/auth_oidc.rs, a real OpenID Connect provider run locally.
# Idempotent; Debian; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/sbin/slapd ] || ! command -v ldapsearch >/dev/null 2>&1; then
  # slapd's debconf questions get their defaults without a terminal.
  apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slapd ldap-utils
  }
  # The tests run their own instance; the packaged one would only hold port 389.
  if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
fi

# The version is pinned: the tests drive its authorization form and user endpoint.
mock_version="0.3.4"
if ! python3 -c 'import oidc_provider_mock' >/dev/null 2>&1; then
  python3 -m pip install --quiet "oidc-provider-mock==${mock_version}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "oidc-provider-mock==${mock_version}"
fi
python3 -c 'import oidc_provider_mock' && echo "oidc-provider-mock ready"
/usr/sbin/slapd -VV 2>&1 | head -1 || true
