#!/usr/bin/env bash
# Make sure a Chromium browser is installed for the browser test of the pages.
# Installs Debian's `chromium` package when it is missing and apt-get can be used
# (as root); otherwise says why and leaves it to the test, which skips with that
# reason locally and fails in CI.
set -euo pipefail

have_browser() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if have_browser; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no chromium and no root apt-get to install one;" \
        "the browser test will skip (and fail under CI)" >&2
    exit 0
fi
echo "install-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
have_browser || { echo "install-chromium: chromium installed but not on PATH" >&2; exit 1; }
