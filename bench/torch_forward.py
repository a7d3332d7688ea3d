"""Times PyTorch's forward pass of the same network and input as `xai bench`, and checks the
logits agree with `xai classify --json`. Prints one JSON line.

python3 bench/torch_forward.py --weights weights/resnet50-int8.safetensors --device cpu --threads 2
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from torch_resnet import load

MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def caffe_input(path: Path) -> torch.Tensor:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy((rgb[..., ::-1] - MEAN_BGR).transpose(2, 0, 1).copy()).unsqueeze(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--image", type=Path, default=Path("tests/fixtures/images/chelsea.png"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1, help="copies of the photo in one forward pass")
    parser.add_argument("--logits", type=Path, help="xai classify --json output to compare with")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load(args.weights).to(args.device)
    x = caffe_input(args.image).repeat(args.batch, 1, 1, 1).to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    times = []
    with torch.inference_mode():
        logits = model(x)  # warm-up
        for _ in range(args.runs):
            sync()
            start = time.perf_counter()
            logits = model(x)
            logits.cpu()  # read back, as xai does
            times.append((time.perf_counter() - start) * 1e3)
    result = {"peer": f"pytorch {torch.__version__} ({args.device}, {args.threads} threads)", "batch": args.batch,
              "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
              "top1": int(logits[0].argmax())}
    if args.logits:
        ours = np.array(json.loads(args.logits.read_text().splitlines()[0])["logits"])
        result["max_logit_difference"] = float(np.abs(ours - logits.cpu().numpy()[0]).max())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
