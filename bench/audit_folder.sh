#!/usr/bin/env bash
# A folder for benchmarking `xai audit` and bench/torch_audit.py in the ImageFolder layout: N
# photos cycling through the four test photos, chelsea, coffee and rocket as OUT/<class>/<i>.png
# and astronaut loose at the top, OUT/<i>.png (no class of the model names it).
# bench/audit_folder.sh OUT N
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OUT N" >&2; exit 2; }
out=$1 n=$2
images=$(dirname "$0")/../tests/fixtures/images
sources=(chelsea coffee rocket astronaut)
folders=(Egyptian_cat espresso space_shuttle .)
for folder in "${folders[@]}"; do mkdir -p "$out/$folder"; done
for ((i = 0; i < n; i++)); do
  k=$((i % 4))
  # Plain copies: simple, and they work across filesystems, unlike hard links.
  cp "$images/${sources[k]}.png" "$out/${folders[k]}/$(printf %05d "$i").png"
done
