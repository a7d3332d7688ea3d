#!/usr/bin/env bash
# Makes what bench/gpu.sh brings to a lent GPU machine (which has no network), so a session that
# is lent one spends its device minutes on the run alone:
#   .bench-carry/xai.xz  a stripped release build of `xai` (the wgpu feature, with burn's fusion
#                        and autotune, is its default)
#   .bench-carry/xai-fused-bias.xz  the same with the `fused-bias` trial, to compare in the same run
#                        (xz: two builds and the weights fit the 64 MiB a device call carries)
#   .bench-carry/convolutions.xz  xai-conv's example: the host's convolutions of a forward pass
#                        timed one by one, for how each scales to 16 cores
#   .bench-carry/convolutions-one-block.xz  the same with the `one-block-per-core` trial
#   .gl/*.deb            the Vulkan loader, which the lent machine lacks
#   weights/resnet50-int8.safetensors (made by `cargo xtask weights` when missing)
# Then, from the device tool, one call (about 5 to 8 minutes on the H200; 64 MiB may travel):
#   run  command: bash bench/gpu.sh   carry: [".bench-carry", ".gl", "weights/resnet50-int8.safetensors"]
set -eu
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
[ -f weights/resnet50-int8.safetensors ] || cargo xtask weights
rm -rf .bench-carry && mkdir -p .bench-carry .gl
for build in xai:wgpu xai-fused-bias:fused-bias; do
  cargo build --release --package xai-cli --features "${build#*:}"
  strip -o ".bench-carry/${build%%:*}" "$target/release/xai"
  xz -9 -T0 ".bench-carry/${build%%:*}"
done
for build in convolutions: convolutions-one-block:one-block-per-core; do
  cargo build --release --package xai-conv --example convolutions --features "${build#*:}"
  strip -o ".bench-carry/${build%%:*}" "$target/release/examples/convolutions"
  xz -9 -T0 ".bench-carry/${build%%:*}"
done
rm -f .gl/*.deb
(cd .gl && apt-get download libvulkan1)
du -ch .bench-carry/*.xz .gl/*.deb weights/resnet50-int8.safetensors | tail -1
