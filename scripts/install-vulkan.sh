#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) system-wide when no Vulkan driver is present.
# On Debian bookworm it prefers bookworm-backports' Mesa 25 (our GEMMs run 4-5x faster than on
# bookworm's 22.3); the archive address is the one this machine's own apt configuration uses.
# Falls back to the release's mesa-vulkan-drivers. Needs root and apt-get.
set -euo pipefail

have_vulkan_driver() {
  compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null || compgen -G "/etc/vulkan/icd.d/*.json" >/dev/null
}

if have_vulkan_driver; then
  echo "a Vulkan driver is installed" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
backports=""
if grep -q bookworm /etc/os-release 2>/dev/null; then
  if grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    backports=bookworm-backports
  else
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1)
    if [ -n "$uri" ]; then
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" > /etc/apt/sources.list.d/wgbert-backports.sources
      backports=bookworm-backports
    fi
  fi
fi
apt-get update -qq
if [ -n "$backports" ] && apt-get install -y -qq -t "$backports" mesa-vulkan-drivers libvulkan1; then
  exit 0
fi
apt-get install -y -qq mesa-vulkan-drivers libvulkan1
