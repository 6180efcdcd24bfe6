"""Photos for the demo registry: small drawn JPEGs on a few violations, so the map
popup, the ledger and the KMZ show thumbnails without any real photo in the repository.

Each closed case gets a 整改前 picture (a heap on the bank) and a 整改后 one (the bank
cleared); a few assigned cases get a 整改前 one. The pictures carry EXIF time (the day
found or closed) and a GPS position a few metres from the feature, like a phone's, and go
through the same checks and cleaning as any upload (:func:`geo.attachments.add`).
"""

from __future__ import annotations

import io

import numpy as np

#: How many cases of each status get photos.
CLOSED_WITH_PHOTOS = 6
ASSIGNED_WITH_PHOTOS = 4


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round(((value - d) * 60 - m) * 60, 4))


def demo_photo(kind: str, lon: float, lat: float, day: str, rng: np.random.Generator) -> bytes:
    """A 480×360 drawing of a riverbank, with a heap (``before``) or cleared (``after``)."""
    from PIL import ExifTags, Image, ImageDraw

    img = Image.new("RGB", (480, 360), "#bcd9ef")  # sky
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 150, 480, 250], fill="#6fae5a")  # bank
    draw.polygon([(0, 250), (480, 230), (480, 360), (0, 360)], fill="#4f86b8")  # water
    for _ in range(6):  # reeds
        x = int(rng.integers(10, 470))
        draw.line([(x, 250), (x + int(rng.integers(-6, 7)), 200)], fill="#3d7a34", width=3)
    if kind == "before":
        for _ in range(14):  # the heap: 乱堆
            x, y = int(rng.integers(150, 330)), int(rng.integers(150, 215))
            r = int(rng.integers(12, 34))
            color = ["#7a5c3e", "#9a8f84", "#5d5d5d", "#b0763c"][int(rng.integers(0, 4))]
            draw.ellipse([x - r, y - r // 2, x + r, y + r // 2], fill=color)
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"{day.replace('-', ':')} {int(rng.integers(8, 17)):02d}:{int(rng.integers(0, 60)):02d}:00"
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80, exif=exif.tobytes())
    return buf.getvalue()


def add_demo_photos(registry, seed: int = 2021) -> int:
    """Put drawn photos on a few demo violations; returns how many were stored."""
    from geo.attachments import add

    rng = np.random.default_rng(seed + 17)
    gdf = registry.read("violations")
    n = 0
    plan = [("已销号", CLOSED_WITH_PHOTOS, ("before", "after")), ("已交办", ASSIGNED_WITH_PHOTOS, ("before",))]
    for status, count, kinds in plan:
        chosen = gdf[gdf["status"] == status].head(count)
        for fid, row in chosen.iterrows():
            point = row.geometry.representative_point()
            for kind in kinds:
                # A phone's fix: a few metres off the point reported.
                lon = point.x + float(rng.normal(0, 0.00005))
                lat = point.y + float(rng.normal(0, 0.00005))
                day = str(row["closed_on"] if kind == "after" and row.get("closed_on") else row["found_on"])[:10]
                data = demo_photo(kind, lon, lat, day, rng)
                add(registry, "violations", int(fid), data, f"{row['code']}_{kind}.jpg", kind, user="demo")
                n += 1
    return n
