#!/usr/bin/env bash
# GPU benchmark, for a lent machine with an NVIDIA GPU and PyTorch but no network: `xai` on the
# GPU through wgpu (Vulkan) beside PyTorch CUDA, on the same network, weights and photo.
# Brings: .bench-carry/xai.xz (a stripped release build of xai, wgpu feature on), optionally
# .bench-carry/xai-fused-bias.xz (the same with the `fused-bias` trial, to compare in the same run),
# optionally .bench-carry/convolutions.xz (xai-conv's example) and convolutions-one-block.xz (its
# `one-block-per-core` trial), weights/resnet50-int8.safetensors,
# and .gl/*.deb (the Vulkan loader). Writes to $OUT.
set -u
out=${OUT:-/tmp/xai-bench}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export XDG_RUNTIME_DIR=$(mktemp -d)
weights=weights/resnet50-int8.safetensors
image=tests/fixtures/images/chelsea.png
# .bench-carry/NAME.xz to the executable /tmp/NAME (the machine has Python's lzma, not xz).
unpack() {
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    ".bench-carry/$1.xz" "/tmp/$1" && chmod +x "/tmp/$1"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
# The host's CPU too: the flex rows and the NMF's cores are its (the machine each number names).
(nproc; grep -m1 'model name' /proc/cpuinfo; grep -m1 -o 'avx512f' /proc/cpuinfo) | tee "$out/cpu.txt"
builds="xai xai-fused-bias"
for build in $builds; do
  [ -f ".bench-carry/$build.xz" ] || continue
  unpack "$build"
  timeout 120 "/tmp/$build" classify "$image" --backend wgpu --json --weights "$weights" > "$out/$build-logits.json" \
    || echo "$build on wgpu failed" | tee -a "$out/gpu.txt"
  # --nmf-photos: DFF's NMF on the host (one core, every core) and on the GPU for 1 to 50 photos,
  # where every core and the GPU start to pay (the main build's; the trial changes only the network).
  nmf=$([ "$build" = xai ] && echo "--nmf-photos 1,2,4,8,16,50")
  echo "$build:" && timeout 300 "/tmp/$build" bench --backend wgpu --runs 20 --batch 8 $nmf \
    --weights "$weights" --image "$image" \
    | tee "$out/$build-wgpu.txt"
done
# Batch 1 (its logits checked against ours) and batch 8, as issue 16 asks for both.
(cd bench && timeout 120 python3 torch_forward.py --weights "../$weights" --image "../$image" --device cuda \
  --runs 50 --logits "$out/xai-logits.json" && timeout 120 python3 torch_forward.py --weights "../$weights" \
  --image "../$image" --device cuda --runs 50 --batch 8) | tee "$out/torch-cuda.json"
(cd bench && for batch in 1 8; do timeout 120 python3 torch_forward.py --weights "../$weights" --image "../$image" \
  --device cpu --threads 16 --runs 20 --batch $batch; done) | tee "$out/torch-cpu16.json"
timeout 180 /tmp/xai bench --backend flex --runs 10 --batch 8 --weights "$weights" --image "$image" | tee "$out/xai-flex16.txt"
# A forward pass's convolutions one by one, on every core and on one (which of them scale), and
# with the trial's plan of one block of output channels a core on small maps, twice each.
for build in convolutions convolutions-one-block; do
  [ -f ".bench-carry/$build.xz" ] && unpack "$build"
done
if [ -x /tmp/convolutions ]; then
  for run in 16:convolutions 16:convolutions-one-block 16:convolutions 16:convolutions-one-block 1:convolutions; do
    [ -x "/tmp/${run#*:}" ] || continue
    echo "${run#*:}:" && RAYON_NUM_THREADS=${run%%:*} timeout 60 "/tmp/${run#*:}"
  done | tee "$out/xai-convolutions.txt"
fi
# Where the forward pass's GPU time goes, kernel by kernel (issue 16 item 2): cubecl's profiler,
# switched on by a cubecl.toml in the working directory, logs each kernel's device time; it waits
# for each kernel, so this run is not timed. bench/gpu_profile.py sums the last run of a case's.
profile=$(mktemp -d) root=$PWD
printf '[profiling.logger]\nlevel = "basic"\nstdout = true\n' > "$profile/cubecl.toml"
for build in $builds; do
  [ -x "/tmp/$build" ] || continue
  (cd "$profile" && timeout 180 "/tmp/$build" bench --backend wgpu --runs 3 --json --weights "$root/$weights" \
    --image "$root/$image" > "$profile/$build.log" 2>&1)
  timeout 120 "/tmp/$build" bench --backend wgpu --runs 20 --json --weights "$weights" --image "$image" > "$profile/$build-wall.json"
  # DFF too (issue 16 item 3): what of its time is off the device (the readbacks, the host's NMF).
  for case in forward dff_k5; do
    python3 bench/gpu_profile.py "$profile/$build.log" --case $case --runs 3 --wall "$profile/$build-wall.json"
  done | tee "$out/$build-profile.txt"
  gzip -c "$profile/$build.log" > "$out/$build-profile.log.gz"
done
if [ -s "$out/xai-fused-bias-logits.json" ]; then
  python3 - "$out" <<'PY' | tee "$out/fused-bias-logits.txt"
import json, sys
read = lambda name: json.loads(open(f"{sys.argv[1]}/{name}").readline())["logits"]
plain, trial = read("xai-logits.json"), read("xai-fused-bias-logits.json")
print("fused-bias vs plain wgpu: max logit difference", max(abs(a - b) for a, b in zip(plain, trial)))
PY
fi
# cubecl tunes a kernel once per key, each shape rounded to a power of two unless its autotune
# level is "full" (issue 16 item 2: whether the rounding costs the forward pass better kernels).
# Last: it tunes longest.
CUBECL_AUTOTUNE_LEVEL=full timeout 240 /tmp/xai bench --backend wgpu --runs 20 --batch 8 --weights "$weights" \
  --image "$image" | tee "$out/xai-autotune-full.txt"
