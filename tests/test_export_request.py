"""The one export entry point (`geo.export.export_request`) that `GET /export` and
`hehu export` both call: where the file goes, what the result tells, rights first."""

import tempfile

import pytest
from test_export_support import small_registry

from geo.export import ExportError, ExportRequest, export_request


@pytest.fixture
def small(tmp_path):
    reg = small_registry(tmp_path / "small.gpkg")
    yield reg
    reg.close()


def test_without_out_the_file_is_named_from_the_selection_in_the_folder(small, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    result = export_request(small, ExportRequest("violations", "geojson", folder=folder, where="status=整改中"))
    assert result.path == folder / result.filename and result.path.is_file()
    assert result.filename.startswith("清四乱问题_整改中_") and result.filename.endswith(".geojson")
    assert result.ascii_filename.isascii() and result.description == "整改中"


def test_a_named_out_is_written_as_named(small, tmp_path):
    out = tmp_path / "mine.csv"
    result = export_request(small, ExportRequest("violations", "csv", out))
    assert result.path == out and out.is_file() and result.attachments is None


def test_temporary_writes_a_fresh_file_with_the_named_suffix(small, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = export_request(small, ExportRequest("violations", "xlsx", temporary=True))
    assert result.path.parent == scratch and result.path.suffix == ".xlsx" and result.path.is_file()
    assert result.filename.endswith(".xlsx") and result.path.name != result.filename


def test_check_layers_sees_the_parsed_ids_before_anything_is_written(small, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []

    def refuse(ids):
        seen.append(ids)
        raise ExportError("no right", parameter="layers")

    with pytest.raises(ExportError):
        export_request(small, ExportRequest("violations,rivers", "gpkg", temporary=True), check_layers=refuse)
    assert seen == [["violations", "rivers"]] and list(scratch.iterdir()) == []


def test_a_bad_format_is_refused_before_the_layers_are_checked(small):
    with pytest.raises(ExportError):
        export_request(small, ExportRequest("violations", "docx"), check_layers=lambda ids: pytest.fail("checked"))
