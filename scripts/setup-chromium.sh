#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (test/browser/) and the web demo's screenshots.
# Uses the machine's existing apt sources; idempotent: does nothing when /usr/bin/chromium exists.
# Set WGSL_NN_SKIP_CHROMIUM=1 to skip (the browser tests then skip with a message).
set -euo pipefail

if [ "${WGSL_NN_SKIP_CHROMIUM:-}" = "1" ]; then
  echo "setup-chromium: skipped (WGSL_NN_SKIP_CHROMIUM=1)"
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi

if [ -x /usr/bin/chromium ]; then
  echo "setup-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-chromium: no apt-get here; install Chromium at /usr/bin/chromium by hand (or set WGSL_NN_CHROMIUM)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
# fonts-liberation: readable text in the demo's screenshots.
$sudo_cmd apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "setup-chromium: installed $(/usr/bin/chromium --version 2>/dev/null)"
