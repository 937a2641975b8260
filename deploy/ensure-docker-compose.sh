#!/usr/bin/env bash
# Makes sure `docker-compose` is on PATH: the deploy-file tests validate docker-compose.yml with
# `docker-compose config -q`. Installs Debian's package (compose v1.29) when missing; does nothing
# when it is already there, so `make test` can call it every time.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
  echo "ensure-docker-compose: found $(command -v docker-compose)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-docker-compose: docker-compose is missing and apt-get is not available;" \
       "install docker-compose with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure-docker-compose: need root (or sudo) to install docker-compose" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-docker-compose: installing Debian package docker-compose (apt-get update, apt-get install)"
$SUDO apt-get update -qq
# --no-install-recommends: the recommended docker.io engine is not needed to validate files.
$SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
echo "ensure-docker-compose: installed $(docker-compose version --short 2>/dev/null || command -v docker-compose)"
