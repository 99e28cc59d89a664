#!/usr/bin/env bash
# promtool runs the alert-rule unit tests; it comes with Debian's prometheus package.
set -euo pipefail
command -v promtool >/dev/null && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing promtool (Debian package prometheus)..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null || { echo "promtool still missing after install" >&2; exit 2; }
