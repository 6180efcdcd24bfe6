"""Test photos made at test time with Pillow and piexif (no binary fixtures)."""

from __future__ import annotations

import io

import piexif
from PIL import Image, ImageDraw


def _dms(value: float) -> tuple:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 10000)
    return ((d, 1), (m, 1), (s, 10000))


def jpeg(lon: float | None = None, lat: float | None = None, taken: str | None = "2021:05:01 10:30:00",
         size: tuple[int, int] = (640, 480), orientation: int = 1, color: str = "#3a7") -> bytes:
    """A JPEG with EXIF time, GPS (WGS84) and orientation, plus a camera serial to strip."""
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    draw.rectangle([10, 10, size[0] // 2, size[1] // 3], fill="#c33")
    draw.ellipse([size[0] // 2, size[1] // 2, size[0] - 10, size[1] - 10], fill="#ee2")
    exif = {"0th": {piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Make: b"TestPhone",
                    piexif.ImageIFD.ImageDescription: b"serial SN-123456"}, "Exif": {}, "GPS": {}}
    if taken:
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    if lon is not None and lat is not None:
        exif["GPS"] = {
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _dms(lon),
        }
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=piexif.dump(exif))
    return buf.getvalue()


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    img = Image.new("RGBA", size, (10, 120, 200, 255))
    ImageDraw.Draw(img).line([0, 0, size[0], size[1]], fill=(255, 0, 0, 255), width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB").tobytes()
