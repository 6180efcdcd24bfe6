"""Files: the output path checked, written atomically, and named safely and meaningfully.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from geo.crs import STORAGE_CRS
from geo.export.options import FORMATS, ExportError
from layers import Layer

# -- files ---------------------------------------------------------------------------------


def check_out_path(target: str | Path) -> Path:
    """``target`` as a Path, or ExportError when it is a folder or its folder is missing."""
    target = Path(target)
    if target.is_dir():
        raise ExportError(key="export.out_is_folder", params={"target": target}, parameter="out")
    if not target.parent.is_dir():
        what = "export.out_parent_not_folder" if target.parent.exists() else "export.out_parent_missing"
        raise ExportError(key=what, params={"target": target, "folder": target.parent}, parameter="out")
    return target


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, moved onto it only when the block succeeds.

    The temporary name keeps the target's suffix (GDAL chooses drivers by suffix) and
    starts with a dot; on any error it is removed, so nothing half-written remains.
    """
    target = check_out_path(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem[:40]}.", suffix=".part" + target.suffix, dir=target.parent)
    except OSError as exc:  # a read-only or full file system, no permission...
        raise ExportError(
            key="export.cannot_write", params={"folder": target.parent, "reason": exc.strerror or exc}, parameter="out"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers create the file themselves (GDAL refuses an empty one)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            if leftover.exists():
                leftover.unlink()


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+|\s+')


def safe_filename(name: str, max_len: int = 120) -> str:
    """``name`` with path separators, reserved and control characters replaced by ``_``."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    stem = re.sub(r"_{2,}", "_", _UNSAFE.sub("_", stem)).strip("._-") or "export"
    ext = _UNSAFE.sub("", ext)
    return stem[: max_len - len(ext) - 1] + (dot + ext if dot else "")


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "", text)


def export_filename(
    layers: Sequence[Layer],
    fmt: str,
    tags: Sequence[tuple[str, str]] = (),
    *,
    crs: str = STORAGE_CRS,
    date: dt.date | None = None,
    ascii_only: bool = False,
) -> str:
    """A safe, meaningful file name: layers, filters, CRS and date.

    >>> from layers import load_catalog
    >>> export_filename([load_catalog()["violations"]], "geojson", [("丹金溧漕河50米内", "near50m")],
    ...                 date=dt.date(2021, 5, 1))
    '清四乱问题_丹金溧漕河50米内_20210501.geojson'
    """
    date = date or dt.date.today()
    idx = 1 if ascii_only else 0
    names = [lyr.id if ascii_only else lyr.title_zh for lyr in layers]
    head = ("-" if ascii_only else "+").join(names) if len(names) <= 3 else (f"{len(names)}layers" if ascii_only else f"{len(names)}个图层")
    parts = [head, *(t[idx] for t in tags if t[idx])]
    if crs != STORAGE_CRS:
        parts.append(crs.replace(":", "").replace("EPSG", "EPSG") if crs.startswith("EPSG") else crs)
    parts.append(date.strftime("%Y%m%d"))
    suffix = FORMATS[fmt][0]
    if fmt == "csv" and len(layers) > 1:
        suffix = ".zip"
    if fmt == "shp":
        suffix = ".shp.zip"
    name = safe_filename("_".join(p for p in parts if p) + suffix)
    return _ascii(name) if ascii_only else name
