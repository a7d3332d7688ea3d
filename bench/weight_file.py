"""Reads an xai-lens weight file (weights/README.md) for the peers' copies of the network:
BatchNorm is already folded, int8 kernels are dequantized with their per-channel scales, exactly
what `xai` computes with."""

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

# (stage, blocks, width, stride): Keras ResNet-50 v1, as crates/model/src/architecture.rs.
STAGES = [(2, 3, 64, 1), (3, 4, 128, 2), (4, 6, 256, 2), (5, 3, 512, 2)]


def blocks() -> list[tuple[str, int, bool]]:
    """Every bottleneck block in order: (name, stride, has a projection shortcut)."""
    return [(f"res{stage}{chr(ord('a') + b)}", stride if b == 0 else 1, b == 0)
            for stage, count, _, stride in STAGES for b in range(count)]


class WeightFile:
    def __init__(self, path: Path):
        self.tensors = load_file(str(path))

    def layer(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The f32 weight and bias of a conv or dense layer."""
        weight = self.tensors[f"{name}.weight"].astype(np.float32)
        if f"{name}.weight_scale" in self.tensors:
            scale = self.tensors[f"{name}.weight_scale"].astype(np.float32)
            weight = weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))
        return weight, self.tensors[f"{name}.bias"].astype(np.float32)
