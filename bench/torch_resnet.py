"""The network of an xai-lens weight file (weights/README.md) as a PyTorch module, for
benchmarks against PyTorch on the same weights: BatchNorm is already folded, int8 kernels are
dequantized with their per-channel scales, exactly what `xai` computes with."""

from pathlib import Path

import torch
from safetensors.numpy import load_file
from torch import nn

# (stage, blocks, width, stride): Keras ResNet-50 v1, as crates/model/src/architecture.rs.
STAGES = [(2, 3, 64, 1), (3, 4, 128, 2), (4, 6, 256, 2), (5, 3, 512, 2)]


def load_layer(tensors: dict, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.from_numpy(tensors[f"{name}.weight"].astype("float32"))
    if f"{name}.weight_scale" in tensors:
        scale = torch.from_numpy(tensors[f"{name}.weight_scale"])
        weight = weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    return weight, torch.from_numpy(tensors[f"{name}.bias"])


def conv(tensors: dict, name: str, stride: int = 1) -> nn.Conv2d:
    weight, bias = load_layer(tensors, name)
    kernel = weight.shape[-1]
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], kernel, stride, padding=kernel // 2)
    layer.weight.data, layer.bias.data = weight, bias
    return layer


class Bottleneck(nn.Module):
    def __init__(self, tensors: dict, name: str, stride: int, projection: bool):
        super().__init__()
        self.reduce = conv(tensors, f"{name}_branch2a", stride)
        self.spatial = conv(tensors, f"{name}_branch2b")
        self.expand = conv(tensors, f"{name}_branch2c")
        self.shortcut = conv(tensors, f"{name}_branch1", stride) if projection else nn.Identity()

    def forward(self, x):
        y = self.expand(torch.relu(self.spatial(torch.relu(self.reduce(x)))))
        return torch.relu(y + self.shortcut(x))


class ResNet50(nn.Module):
    def __init__(self, tensors: dict):
        super().__init__()
        self.stem = conv(tensors, "conv1", 2)
        # After a ReLU, padding with zeros (Keras) or -inf (PyTorch) gives the same maximum.
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.blocks = nn.Sequential(*[
            Bottleneck(tensors, f"res{stage}{chr(ord('a') + b)}", stride if b == 0 else 1, b == 0)
            for stage, blocks, _, stride in STAGES for b in range(blocks)
        ])
        self.fc = nn.Linear(2048, 1000)
        self.fc.weight.data, self.fc.bias.data = load_layer(tensors, "fc1000")

    def forward(self, x):
        x = self.blocks(self.pool(torch.relu(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def load(path: Path) -> ResNet50:
    return ResNet50(load_file(str(path))).eval()
