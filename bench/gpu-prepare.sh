#!/usr/bin/env bash
# Makes what bench/gpu.sh brings to a lent GPU machine (which has no network), so a session that
# is lent one spends its device minutes on the run alone:
#   .bench-carry/xai.gz  a stripped release build of `xai` (the wgpu feature, with burn's fusion
#                        and autotune, is its default)
#   .gl/*.deb            the Vulkan loader, which the lent machine lacks
#   weights/resnet50-int8.safetensors (made by `cargo xtask weights` when missing)
# Then, from the device tool, one call (about 4 minutes on the H200; 64 MiB may travel):
#   run  command: bash bench/gpu.sh   carry: [".bench-carry", ".gl", "weights/resnet50-int8.safetensors"]
set -eu
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
[ -f weights/resnet50-int8.safetensors ] || cargo xtask weights
cargo build --release --package xai-cli
mkdir -p .bench-carry .gl
strip -o .bench-carry/xai "$target/release/xai"
gzip -9 -f .bench-carry/xai
rm -f .gl/*.deb
(cd .gl && apt-get download libvulkan1)
du -ch .bench-carry/xai.gz .gl/*.deb weights/resnet50-int8.safetensors | tail -1
