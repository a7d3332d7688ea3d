#!/usr/bin/env bash
# The folder audit's throughput, ours beside PyTorch's in one run on the same folder: `xai audit`
# at batch 1 and at the batch it picks (its last progress line gives photos per second over the
# classification alone), bench/torch_audit.py at the same batch sizes, and each one's peak memory.
# bench/audit.sh FOLDER [PYTHON]    (make a folder with bench/audit_folder.sh)
set -euo pipefail
folder=$1 python=${2:-python3}
cd "$(dirname "$0")/.."
xai=${CARGO_TARGET_DIR:-$HOME/.cache/xai-lens/target}/release/xai
weights=weights/resnet50-int8.safetensors
peak() { grep 'Maximum resident' "$1" | awk '{printf "%.0f MB", $6 / 1024}'; }
for batch in 1 default; do
  args=(audit "$folder" --weights "$weights" --out /tmp/xai-bench-audit.html)
  [ "$batch" = default ] || args+=(--batch "$batch")
  /usr/bin/time -v "$xai" "${args[@]}" 2> /tmp/xai-bench-audit.err > /dev/null
  echo "xai batch $batch: $(grep '^audit: ' /tmp/xai-bench-audit.err | tail -1), peak $(peak /tmp/xai-bench-audit.err)"
done
for batch in 1 16; do
  (cd bench && "$python" torch_audit.py --weights "../$weights" --folder "$folder" --batch "$batch")
done
