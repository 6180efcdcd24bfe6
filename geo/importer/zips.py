"""Zip archives checked before anything is extracted: zip bombs and path traversal."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from geo.importer.report import ImportFileError

#: Zip archives (shapefile .zip, .kmz, .xlsx) are refused beyond these limits, checked
#: before anything is extracted: a zip bomb expands a few kilobytes into gigabytes.
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 2000



def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """The members of a zip, refusing zip bombs and unsafe names before any extraction."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path.name}: not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ImportFileError(f"{path.name}: {len(infos)} files in the zip; at most {MAX_ZIP_MEMBERS}")
    total = 0
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or (len(name) > 1 and name[1] == ":")
            or ".." in parts
            or "\x00" in name
        ):
            raise ImportFileError(f"{path.name}: unsafe path {name!r} in the zip (absolute or '..'); refused")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ImportFileError(f"{path.name}: symbolic link {name!r} in the zip; refused")
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise ImportFileError(
                f"{path.name}: {name!r} expands {info.file_size // max(info.compress_size, 1)}-fold "
                f"(limit {MAX_ZIP_RATIO}); refused as a likely zip bomb"
            )
    if total > MAX_UNZIPPED_BYTES:
        raise ImportFileError(
            f"{path.name}: {total / 1e6:.0f} MB uncompressed, over the "
            f"{MAX_UNZIPPED_BYTES / 1e6:.0f} MB limit; refused"
        )
    return infos


def safe_extract(path: Path, dest: Path) -> list[Path]:
    """Extract a checked zip into ``dest``, counting the bytes actually written."""
    infos = check_zip(path)
    out: list[Path] = []
    written = 0
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if info.is_dir():
                continue
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            target = dest.joinpath(*rel.parts)
            if dest.resolve() not in target.resolve().parents:
                raise ImportFileError(f"{path.name}: unsafe path {info.filename!r} in the zip; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_UNZIPPED_BYTES:
                            raise ImportFileError(f"{path.name}: expands beyond the size limit; refused")
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise ImportFileError(f"{path.name}: cannot extract {info.filename!r} ({exc})") from None
            out.append(target)
    return out
