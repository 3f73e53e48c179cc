"""storage_path as an object-store URI: locations, copies down and up, and the checks before Ray starts, against a
real S3 API (moto's server on 127.0.0.1) through pyarrow — the filesystem layer Ray Train itself uses."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.fs
import pytest

from raylife.errors import PlanError
from raylife.plan.trials import check_storage
from raylife.artifacts import Location, StorageError, check_writable, fetch, upload


def test_a_uri_location_keeps_its_options_on_every_child_and_hides_its_secret():
    root = Location.parse("s3://KEY:SECRET@bucket/runs/?region=eu-west-1&scheme=http")
    child = root.child("run-1", "/trial-2/", "models")
    assert child.uri == "s3://KEY:SECRET@bucket/runs/run-1/trial-2/models?region=eu-west-1&scheme=http"
    assert child.remote and child.scheme == "s3"
    assert child.redacted() == "s3://***@bucket/runs/run-1/trial-2/models?region=eu-west-1&scheme=http"
    assert "SECRET" not in child.redacted()


def test_a_local_location_is_an_absolute_folder_and_file_uris_are_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Location.parse("./art").uri == str(tmp_path / "art")
    assert Location.parse(f"file://{tmp_path}/art").uri == str(tmp_path / "art")
    assert not Location.parse(f"file://{tmp_path}/art").remote
    assert Location.parse("./art").child("r", "t").uri == str(tmp_path / "art" / "r" / "t")


def test_ray_trains_paths_map_back_to_uris(s3_uri):
    root = Location.parse(s3_uri("maps"))
    inside = root.filesystem()[1] + "/run/trial/train/checkpoint_000001"
    assert root.within(inside).uri == root.child("run/trial/train/checkpoint_000001").uri
    with pytest.raises(ValueError):
        root.within("other-bucket/x")


def test_a_folder_goes_up_and_comes_down_whole_and_each_copy_is_timed(s3_uri, tmp_path):
    src = tmp_path / "saved"
    (src / "variables").mkdir(parents=True)  # a SavedModel-like tree: nested folders must survive the round trip
    (src / "saved_model.pb").write_bytes(b"x" * 10_000)
    (src / "variables" / "variables.data-00000-of-00001").write_bytes(b"y" * 5_000)
    where = Location.parse(s3_uri("roundtrip")).child("models", "savedmodel").uri
    up = upload(src, where)
    assert up.copied and up.bytes == 15_000 and up.seconds > 0
    down = fetch(where, into=tmp_path / "down")  # into this test's folder: a copy the test leaves in /tmp would count
    assert down.copied and down.seconds > 0 and down.bytes == 15_000
    assert (down.local / "variables" / "variables.data-00000-of-00001").read_bytes() == b"y" * 5_000
    # uploading again replaces, it does not merge: a file gone from the folder is gone from the store
    (src / "saved_model.pb").unlink()
    upload(src, where)
    again = fetch(where, into=tmp_path / "again").local
    assert sorted(p.name for p in again.rglob("*")) == ["variables", "variables.data-00000-of-00001"]


def test_a_local_folder_is_used_in_place(tmp_path):
    (tmp_path / "m").mkdir()
    copy = fetch(str(tmp_path / "m"))
    assert copy.local == tmp_path / "m" and not copy.copied and copy.seconds == 0.0


def test_fetching_nothing_is_an_error_not_an_empty_model(s3_uri):
    with pytest.raises(StorageError, match="nothing at s3://\\*\\*\\*@raylife/absent"):
        fetch(Location.parse(s3_uri("absent")).uri)


def test_a_writable_bucket_passes_and_leaves_nothing_behind(s3_uri):
    where = Location.parse(s3_uri("probe-here"))
    check_writable(where, "--storage-path")
    fs, path = where.filesystem()
    assert fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True, recursive=True)) == []


def test_a_missing_bucket_is_named_with_the_stores_reason(s3_uri):
    where = Location.parse(s3_uri("x").replace("@raylife/", "@no-such-bucket/"))
    with pytest.raises(StorageError) as caught:
        check_writable(where, "suite.toml, run.storage_path")
    text = str(caught.value)
    assert text.startswith("cannot write to storage_path s3://***@no-such-bucket/x?")
    assert "NO_SUCH_BUCKET" in text and "(suite.toml, run.storage_path)" in text and "test:test" not in text


def test_an_unreachable_endpoint_fails_fast(s3_uri):
    closed = s3_uri("x").split("endpoint_override=")[0] + "endpoint_override=127.0.0.1:9&scheme=http&region=us-east-1"
    started = time.monotonic()
    with pytest.raises(StorageError, match="Could not connect|did not answer"):
        check_writable(Location.parse(closed), "--storage-path")
    assert time.monotonic() - started < 35


@pytest.mark.parametrize("uri", ["ftp://host/x", "foo://bucket/x"])
def test_a_scheme_no_filesystem_reads_is_refused_at_plan_time(uri):
    with pytest.raises(PlanError, match=f"storage_path '{uri}' has scheme '{uri.split(':')[0]}', which raylife cannot"):
        check_storage(uri, "--storage-path")


def test_known_schemes_pass_the_plan_check_without_the_network():
    for uri in ("s3://b/x", "gs://b/x", "abfs://c@a.dfs.core.windows.net/x", "hdfs://nn:8020/x", "./local", "/abs"):
        check_storage(uri, "--storage-path")  # no network here: reachability is preflight's, before Ray starts


def test_bad_query_options_are_one_clear_error():
    with pytest.raises(StorageError, match="cannot open storage_path 's3://b/x\\?nonsense=1'.*Unexpected query"):
        Location.parse("s3://b/x?nonsense=1").filesystem()


def test_pyarrow_is_not_imported_for_a_local_path(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from raylife.artifacts import Location, fetch; (Path := __import__('pathlib').Path);"
            f"Path('{tmp_path}/m').mkdir(); fetch('{tmp_path}/m'); print('pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_paths_are_strings_not_path_objects_across_processes():
    assert isinstance(Location.parse(Path("/x")).uri, str)
