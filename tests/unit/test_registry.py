from __future__ import annotations

import pytest

from raylife.errors import RegistryError
from raylife.registry import Registry, import_object


def test_lazy_import_and_cache():
    registry = Registry("thing", {"json_dumps": "json:dumps"})
    assert "json_dumps" in registry
    first = registry.get("json_dumps")
    import json

    assert first is json.dumps
    assert registry.get("json_dumps") is first


def test_unknown_name_suggests_and_lists():
    registry = Registry("framework", {"torch": "json:dumps", "tensorflow": "json:loads"})
    with pytest.raises(RegistryError) as info:
        registry.get("torh")
    assert str(info.value) == "unknown framework 'torh'; did you mean 'torch'? known frameworks: tensorflow, torch"


def test_register_object_directly():
    registry: Registry[int] = Registry("number", {})
    registry.register("one", 1)
    assert registry.get("one") == 1
    assert registry.names() == ["one"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "object 'no_colon' is not of the form 'package.module:attribute'"),
        ("not_a_module_xyz:thing", "cannot import module 'not_a_module_xyz' for object 'not_a_module_xyz:thing': No module named 'not_a_module_xyz'"),
        ("json:nope", "module 'json' has no attribute 'nope' (for object 'json:nope')"),
    ],
)
def test_import_errors_are_user_errors(target, message):
    with pytest.raises(RegistryError) as info:
        import_object(target)
    assert info.value.what == message


def test_dotted_attribute():
    assert import_object("os:path.join") is __import__("os").path.join


def test_third_party_plugins_come_from_entry_points(tmp_path, monkeypatch):
    """A package registers a workload with `[project.entry-points."raylife.workloads"]`; here its installed metadata."""
    info = tmp_path / "raylife_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: raylife-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[raylife.workloads]\nspeech = json:dumps\nvision = json:loads\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("workload", {"vision": "os:getcwd"}, entry_point_group="raylife.workloads")
    assert registry.names() == ["speech", "vision"]
    import json
    import os

    assert registry.get("speech") is json.dumps
    assert registry.get("vision") is os.getcwd  # a plug-in cannot replace a built-in name
