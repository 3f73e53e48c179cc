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
