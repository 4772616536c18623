#!/usr/bin/env bash
# Make sure Dawn (the `webgpu` npm package) finds a Vulkan adapter.
# On Debian 12 that means Mesa lavapipe >= 24 from bookworm-backports (Debian's own mesa 22 is
# rejected by Dawn). The mirror is taken from the machine's existing apt sources, never hard-coded.
# Idempotent: does nothing when a recent enough lavapipe is already installed.
set -euo pipefail

need_major=24
sudo_cmd=""
if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi

lavapipe_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true
}

have_recent_lavapipe() {
  local v
  v=$(lavapipe_version)
  [ -n "$v" ] || return 1
  local major=${v%%.*}
  major=${major#*:}
  [ "$major" -ge "$need_major" ] 2>/dev/null
}

# The first Debian archive URI (not the security one) found in the apt sources.
debian_mirror() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  local uri
  for f in "${files[@]}"; do
    case "$f" in
    *.sources)
      uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
      ;;
    *)
      uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file|ftp):/) {print $i; break}}' "$f" | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
      ;;
    esac
    if [ -n "$uri" ]; then
      echo "${uri%/}"
      return 0
    fi
  done
  return 1
}

codename() {
  . /etc/os-release
  echo "${VERSION_CODENAME:-bookworm}"
}

if have_recent_lavapipe; then
  echo "setup-vulkan: mesa-vulkan-drivers $(lavapipe_version) already installed"
else
  if ! command -v apt-get >/dev/null; then
    echo "setup-vulkan: no apt-get here; install a Vulkan driver (Mesa lavapipe >= $need_major or a GPU driver) by hand" >&2
    exit 1
  fi
  code=$(codename)
  mirror=$(debian_mirror) || {
    echo "setup-vulkan: could not find a Debian mirror in /etc/apt/sources.list{,.d}" >&2
    exit 1
  }
  list=/etc/apt/sources.list.d/wgsl-nn-backports.list
  if [ "$code" = "bookworm" ]; then
    echo "setup-vulkan: adding ${code}-backports from $mirror"
    echo "deb $mirror ${code}-backports main" | $sudo_cmd tee "$list" >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  if [ "$code" = "bookworm" ]; then
    $sudo_cmd apt-get install -y -qq -t "${code}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    $sudo_cmd apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
  echo "setup-vulkan: installed mesa-vulkan-drivers $(lavapipe_version)"
fi

# Print the adapter Dawn sees (needs `npm ci` first; skipped quietly otherwise).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -d "$here/node_modules/webgpu" ]; then
  node "$here/scripts/print-adapter.mjs"
fi
