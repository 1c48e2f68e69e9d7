#!/usr/bin/env bash
# Make sure a PostgreSQL server (initdb, pg_ctl) is installed for the store tests.
# Installs Debian's `postgresql` package when it is missing and apt-get can be used
# (as root); otherwise says why and leaves it to the tests, which skip the
# PostgreSQL cases with that reason locally and fail in CI.
set -euo pipefail

have_server() {
    command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

if have_server; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no PostgreSQL server and no root apt-get to install one;" \
        "the PostgreSQL store tests will skip (and fail under CI)" >&2
    exit 0
fi
echo "install-postgres: installing Debian's postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
have_server || { echo "install-postgres: postgresql installed but no pg_ctl found" >&2; exit 1; }
