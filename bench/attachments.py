"""Benchmark of attachment cleaning: a 12-megapixel phone photo, checked and stored.

Run: ``.venv/bin/python -m bench.attachments`` (options: ``--width``, ``--height``, ``--runs``).

What is timed, in the same process, on the same synthetic photo (noise and shapes, so
it compresses like a real one, with EXIF time, GPS and a camera serial):

- hehu: :func:`geo.attachments.prepare` (sniff, full decode to prove it is an image,
  EXIF read, metadata segments cut without re-encoding, 320 px thumbnail);
- baseline: what most upload handlers do, Pillow open + ``exif_transpose`` + save as
  JPEG quality 90 (re-encoding drops EXIF) + the same thumbnail.

Printed: time per photo for each and their ratio, stored bytes, and whether the pixels
stayed the camera's (max absolute difference of the decoded RGB values).
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np


def _photo(width: int, height: int) -> bytes:
    import piexif
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    base = rng.normal(128, 40, (height // 8, width // 8, 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.ellipse([x, y, x + int(rng.integers(20, 400)), y + int(rng.integers(20, 300))],
                     fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Phone", piexif.ImageIFD.ImageDescription: b"SN-1"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 09:00:00"},
                        "GPS": {1: b"N", 2: ((31, 1), (42, 1), (0, 1)), 3: b"E", 4: ((119, 1), (33, 1), (0, 1))}})
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif)
    return buf.getvalue()


def _baseline(data: bytes) -> tuple[bytes, bytes]:
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    thumb = img.copy()
    thumb.thumbnail((320, 320))
    tb = io.BytesIO()
    thumb.save(tb, "JPEG", quality=80)
    return out.getvalue(), tb.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def main(argv: list[str] | None = None) -> None:
    from geo.attachments import prepare

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    data = _photo(args.width, args.height)
    print(f"photo: {args.width}×{args.height}, {len(data) / 1e6:.2f} MB")
    t0 = time.perf_counter()
    for _ in range(args.runs):
        ours = prepare(data, "IMG_0001.jpg", "before", max_bytes=len(data) + 1)
    t_ours = (time.perf_counter() - t0) / args.runs
    t0 = time.perf_counter()
    for _ in range(args.runs):
        theirs, _thumb = _baseline(data)
    t_base = (time.perf_counter() - t0) / args.runs
    original = _pixels(data)
    d_ours = int(np.abs(_pixels(ours.data) - original).max())
    d_base = int(np.abs(_pixels(theirs) - original).max())
    print(f"hehu prepare : {t_ours * 1000:7.0f} ms/photo, stored {len(ours.data) / 1e6:.2f} MB, max pixel change {d_ours}")
    print(f"re-encode q90: {t_base * 1000:7.0f} ms/photo, stored {len(theirs) / 1e6:.2f} MB, max pixel change {d_base}")
    print(f"ratio (re-encode / hehu): {t_base / t_ours:.2f}× time")


if __name__ == "__main__":
    main()
