#!/usr/bin/env bash
# GPU benchmark, for a lent machine with an NVIDIA GPU and PyTorch but no network: `xai` on the
# GPU through wgpu (Vulkan) beside PyTorch CUDA, on the same network, weights and photo.
# Brings: .bench-carry/xai.gz (a stripped release build of xai, wgpu feature on),
# weights/resnet50-int8.safetensors, and .gl/*.deb (the Vulkan loader). Writes to $OUT.
set -u
out=${OUT:-/tmp/xai-bench}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export XDG_RUNTIME_DIR=$(mktemp -d)
gunzip -c .bench-carry/xai.gz > /tmp/xai && chmod +x /tmp/xai
weights=weights/resnet50-int8.safetensors
image=tests/fixtures/images/chelsea.png

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
timeout 120 /tmp/xai classify "$image" --backend wgpu --json --weights "$weights" > "$out/ours.json" \
  || echo "xai on wgpu failed" | tee -a "$out/gpu.txt"
timeout 240 /tmp/xai bench --backend wgpu --runs 20 --weights "$weights" --image "$image" | tee "$out/xai-wgpu.txt"
(cd bench && timeout 120 python3 torch_forward.py --weights "../$weights" --image "../$image" --device cuda \
  --runs 50 --logits "$out/ours.json") | tee "$out/torch-cuda.json"
(cd bench && timeout 120 python3 torch_forward.py --weights "../$weights" --image "../$image" --device cpu \
  --threads 16 --runs 20) | tee "$out/torch-cpu16.json"
timeout 120 /tmp/xai bench --backend flex --runs 10 --weights "$weights" --image "$image" | tee "$out/xai-flex16.txt"
