"""The network of an xai-lens weight file as a PyTorch module, for benchmarks against PyTorch
on the same weights and numbers (see weight_file.py)."""

from pathlib import Path

import torch
from torch import nn

from weight_file import WeightFile, blocks


def conv(weights: WeightFile, name: str, stride: int = 1) -> nn.Conv2d:
    weight, bias = map(torch.from_numpy, weights.layer(name))
    kernel = weight.shape[-1]
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], kernel, stride, padding=kernel // 2)
    layer.weight.data, layer.bias.data = weight, bias
    return layer


class Bottleneck(nn.Module):
    def __init__(self, weights: WeightFile, name: str, stride: int, projection: bool):
        super().__init__()
        self.reduce = conv(weights, f"{name}_branch2a", stride)
        self.spatial = conv(weights, f"{name}_branch2b")
        self.expand = conv(weights, f"{name}_branch2c")
        self.shortcut = conv(weights, f"{name}_branch1", stride) if projection else nn.Identity()

    def forward(self, x):
        y = self.expand(torch.relu(self.spatial(torch.relu(self.reduce(x)))))
        return torch.relu(y + self.shortcut(x))


class ResNet50(nn.Module):
    def __init__(self, weights: WeightFile):
        super().__init__()
        self.stem = conv(weights, "conv1", 2)
        # After a ReLU, padding with zeros (Keras) or -inf (PyTorch) gives the same maximum.
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.blocks = nn.Sequential(*[Bottleneck(weights, name, stride, projection)
                                      for name, stride, projection in blocks()])
        self.fc = nn.Linear(2048, 1000)
        self.fc.weight.data, self.fc.bias.data = map(torch.from_numpy, weights.layer("fc1000"))

    def forward(self, x):
        x = self.blocks(self.pool(torch.relu(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def load(path: Path) -> ResNet50:
    return ResNet50(WeightFile(path)).eval()
