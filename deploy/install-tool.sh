#!/usr/bin/env bash
# Install a command-line tool the tests need from Debian's packages, unless it is on PATH:
#   deploy/install-tool.sh COMMAND PACKAGE   (promtool: prometheus; kcat: kcat)
set -euo pipefail
tool="$1" package="$2"
command -v "$tool" >/dev/null && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing $tool (Debian package $package)..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$tool" >/dev/null || { echo "$tool still missing after installing $package" >&2; exit 2; }
