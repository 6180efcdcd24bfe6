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
        raise ImportFileError(key="import_file.bad_zip", params={"name": path.name, "reason": str(exc)}) from None
    with zf:
        infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ImportFileError(key="import_file.zip_too_many", params={"name": path.name, "count": len(infos), "limit": MAX_ZIP_MEMBERS})
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
            raise ImportFileError(key="import_file.zip_unsafe_path", params={"name": path.name, "member": repr(name)})
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ImportFileError(key="import_file.zip_symlink", params={"name": path.name, "member": repr(name)})
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise ImportFileError(key="import_file.zip_bomb", params={
                "name": path.name, "member": repr(name), "ratio": info.file_size // max(info.compress_size, 1),
                "limit": MAX_ZIP_RATIO})
    if total > MAX_UNZIPPED_BYTES:
        raise ImportFileError(key="import_file.zip_too_big", params={
            "name": path.name, "size": f"{total / 1e6:.0f}", "limit": f"{MAX_UNZIPPED_BYTES / 1e6:.0f}"})
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
                raise ImportFileError(key="import_file.zip_unsafe_member", params={"name": path.name, "member": repr(info.filename)})
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_UNZIPPED_BYTES:
                            raise ImportFileError(key="import_file.zip_expands", params={"name": path.name})
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise ImportFileError(key="import_file.zip_cannot_extract", params={"name": path.name, "member": repr(info.filename), "reason": str(exc)}) from None
            out.append(target)
    return out
