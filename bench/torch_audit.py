"""Times PyTorch on the work of `xai audit DIR`: every photo of a folder in the ImageFolder layout
(DIR/*.png and DIR/class/*.png) decoded, cropped as `xai` crops it and classified in batches
(softmax top five). The clock covers decoding, cropping and the network, after one warm-up batch.
Prints one JSON line.

python3 bench/torch_audit.py --weights weights/resnet50-int8.safetensors --folder /tmp/audit-200 --batch 16
"""

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from torch_resnet import load

MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
SIZE = 224
EXTENSIONS = {".png", ".jpg", ".jpeg"}


def photos(folder: Path) -> list[Path]:
    """The folder's own photos and those of its subfolders, sorted by path inside the folder."""
    found = [p for p in folder.iterdir() if p.is_file()]
    found += [p for d in folder.iterdir() if d.is_dir() for p in d.iterdir() if p.is_file()]
    return sorted((p for p in found if p.suffix.lower() in EXTENSIONS), key=lambda p: p.relative_to(folder).as_posix())


def center_crop(image: Image.Image) -> Image.Image:
    """As `center_crop` in crates/files/src/photo.rs: the shorter side resized to 8/7 of 224 (256,
    bilinear), then the centre square; a photo already 224 x 224 is used as it is."""
    if image.size == (SIZE, SIZE):
        return image
    w, h = image.size
    scale = round(SIZE * 8 / 7) / min(w, h)
    # int(x + 0.5) rounds halves up, as Rust's f64::round does for positive numbers.
    rw, rh = max(int(w * scale + 0.5), SIZE), max(int(h * scale + 0.5), SIZE)
    image = image.resize((rw, rh), Image.Resampling.BILINEAR)
    left, top = (rw - SIZE) // 2, (rh - SIZE) // 2
    return image.crop((left, top, left + SIZE, top + SIZE))


def crop(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        # xai applies the EXIF orientation before cropping too.
        return np.asarray(center_crop(ImageOps.exif_transpose(image).convert("RGB")), dtype=np.float32)


def caffe_batch(paths: list[Path]) -> torch.Tensor:
    """The network's input: RGB to BGR, minus the ImageNet mean, no scaling; NCHW."""
    rgb = np.stack([crop(p) for p in paths])
    return torch.from_numpy((rgb[..., ::-1] - MEAN_BGR).transpose(0, 3, 1, 2).copy())


def classify(model: torch.nn.Module, paths: list[Path]) -> list[list[int]]:
    """The top five classes of each photo (their probabilities are computed too, as xai does)."""
    top5 = torch.softmax(model(caffe_batch(paths)), dim=1).topk(5, dim=1)
    return top5.indices.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load(args.weights)
    paths = photos(args.folder)
    if not paths:
        parser.error(f"no photos in {args.folder}")
    batches = [paths[i:i + args.batch] for i in range(0, len(paths), args.batch)]
    with torch.inference_mode():
        classify(model, batches[0])  # warm-up: first-call allocations and kernel choices
        start = time.perf_counter()
        for batch in batches:
            classify(model, batch)
        seconds = time.perf_counter() - start
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "photos": len(paths), "batch": args.batch,
                      "seconds": round(seconds, 3), "photos_per_second": round(len(paths) / seconds, 2),
                      # ru_maxrss is in KiB on Linux.
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
