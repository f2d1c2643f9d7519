#!/usr/bin/env bash
# A second, newer software Vulkan driver for tests: Mesa 26 lavapipe, whose
# VK_KHR_cooperative_matrix (f16 8x8x8, subgroup scope) lets wgpu's
# EXPERIMENTAL_COOPERATIVE_MATRIX path run on a CPU. Debian bookworm's glibc is too old for it,
# so its packages (from trixie-backports, with trixie's glibc) are unpacked into a private folder
# and a program is started through that glibc's own loader. Nothing is installed system-wide.
#
#   eval "$(scripts/lavapipe26.sh)"      # fetch once (~300 MB unpacked), print the env
#   $LVP26_RUN ./target/release/wgbert info     # run one binary under Mesa 26
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$LVP26_RUN" cargo test ...   # tests under it
#
# Prints shell `export` lines: VK_ICD_FILENAMES, LVP26_RUN. Exit 1 with a reason if it cannot.
# Folder: $LVP26_DIR, default ~/.cache/lavapipe26. Needs apt-get and Debian's archive keyring
# (scripts/trixie-unpack.sh does the unpacking).
set -euo pipefail
DIR="${LVP26_DIR:-$HOME/.cache/lavapipe26}"
ROOT="$DIR/root"
LIB="$ROOT/usr/lib/x86_64-linux-gnu"
ICD="$DIR/lvp_icd.json"
MESA="26.1.6-1~bpo13+1"

if [ ! -f "$DIR/.done-$MESA" ]; then
  pkgs="mesa-vulkan-drivers=$MESA libc6 libllvm19 libvulkan1 libstdc++6 libgcc-s1 gcc-14-base
    libdrm2 libdrm-common libdrm-amdgpu1 libdisplay-info2 libelf1t64 libexpat1 libffi8 libedit2
    libxml2 liblzma5 libtinfo6 libz3-4 libzstd1 zlib1g libbsd0 libmd0 libpng16-16t64
    libwayland-client0 libx11-6 libx11-data libx11-xcb1 libxau6 libxdmcp6 libxcb1 libxcb-dri3-0
    libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxshmfence1"
  # shellcheck disable=SC2086 # one word a package
  bash "$(dirname "${BASH_SOURCE[0]}")/trixie-unpack.sh" "$DIR" $pkgs >&2 \
    || { echo "echo 'lavapipe26: could not unpack Mesa $MESA (the reason is above)' >&2; exit 1"; exit 1; }
  printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s/libvulkan_lvp.so","api_version":"1.4.0"}}\n' "$LIB" > "$ICD"
  touch "$DIR/.done-$MESA"
fi
echo "export VK_ICD_FILENAMES='$ICD'"
echo "export LVP26_RUN='$LIB/ld-linux-x86-64.so.2 --library-path $LIB'"
