"""Writes the network of an xai-lens weight file as an ONNX graph, for onnxruntime-web in the
browser benchmark: the same ops (conv + bias, ReLU, max pool, add, mean, dense) and the same f32
numbers as `xai` (see weight_file.py). Input "input" [1, 3, S, S], caffe-preprocessed as ours;
output "logits" [1, 1000]. The benchmark page checks ORT's logits against ours.

python3 bench/onnx_resnet.py --weights weights/resnet50-int8.safetensors -o target/resnet50.onnx
"""

import argparse
from pathlib import Path

import onnx
from onnx import TensorProto, helper, numpy_helper

from weight_file import WeightFile, blocks


class Graph:
    def __init__(self, weights: WeightFile):
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def add(self, op: str, inputs: list[str], name: str, **attributes) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def conv(self, x: str, layer: str, stride: int = 1) -> str:
        weight, bias = self.weights.layer(layer)
        self.initializers += [numpy_helper.from_array(weight, f"{layer}.weight"),
                              numpy_helper.from_array(bias, f"{layer}.bias")]
        pad = weight.shape[-1] // 2
        return self.add("Conv", [x, f"{layer}.weight", f"{layer}.bias"], layer,
                        strides=[stride, stride], pads=[pad] * 4)

    def relu(self, x: str) -> str:
        return self.add("Relu", [x], f"{x}_relu")

    def bottleneck(self, x: str, name: str, stride: int, projection: bool) -> str:
        y = self.relu(self.conv(x, f"{name}_branch2a", stride))
        y = self.conv(self.relu(self.conv(y, f"{name}_branch2b")), f"{name}_branch2c")
        shortcut = self.conv(x, f"{name}_branch1", stride) if projection else x
        return self.relu(self.add("Add", [y, shortcut], f"{name}_add"))

    def resnet(self, x: str) -> str:
        x = self.add("MaxPool", [self.relu(self.conv(x, "conv1", 2))], "pool1",
                     kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        for name, stride, projection in blocks():
            x = self.bottleneck(x, name, stride, projection)
        pooled = self.add("Flatten", [self.add("GlobalAveragePool", [x], "avg_pool")], "flatten")
        weight, bias = self.weights.layer("fc1000")
        self.initializers += [numpy_helper.from_array(weight, "fc1000.weight"),
                              numpy_helper.from_array(bias, "fc1000.bias")]
        return self.add("Gemm", [pooled, "fc1000.weight", "fc1000.bias"], "logits", transB=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    graph = Graph(WeightFile(args.weights))
    logits = graph.resnet("input")
    model = helper.make_model(
        helper.make_graph(graph.nodes, "resnet50", [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, args.size, args.size])],
            [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, 1000])], graph.initializers),
        # IR 8 is what opset 17 came with; onnx's newer default is more than onnxruntime-web reads.
        opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="xai-lens bench/onnx_resnet.py")
    onnx.checker.check_model(model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.output))
    print(f"{args.output}: {len(graph.nodes)} nodes, {args.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
