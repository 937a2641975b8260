#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium: the browser tests drive it with Playwright for Python
# (executable_path, no browser download). Installs Debian's package `chromium` when missing; does nothing
# when it is already there, so `make test` can call it every time.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "ensure-chromium: found /usr/bin/chromium"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available;" \
       "install Chromium with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure-chromium: need root (or sudo) to install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: installing Debian package chromium (apt-get update, apt-get install)"
$SUDO apt-get update -qq
# --no-install-recommends: the headless tests need neither the recommended fonts nor the desktop extras.
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
