"""Read a suite file and turn every problem into one SuiteError naming file, line, key and value."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from raylife.errors import SuiteError, close_matches
from raylife.suite.spec import SuiteSpec

Loc = tuple[str | int, ...]


def load_suite(path: str | Path) -> tuple[SuiteSpec, str]:
    """Parse and validate a suite file; returns the spec and the file's text (stored with the results)."""
    path = Path(path)
    if not path.exists():
        nearby = sorted(p.name for p in path.parent.glob("*.toml")) if path.parent.is_dir() else []
        hint = "check the path" + (f"; suites in {path.parent}/: {', '.join(nearby)}" if nearby else "")
        raise SuiteError(f"suite file not found: {path}", hint=hint)
    if not path.is_file():
        raise SuiteError(f"suite path is not a file: {path}", hint="give the path of a .toml suite file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite file: {exc}", where=str(path)) from None
    return parse_suite(text, str(path)), text


def parse_suite(text: str, source: str = "<suite>") -> SuiteSpec:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute: the position is in the message.
        message = str(exc)
        position = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        where = source
        if position:
            message = message[: position.start()] + message[position.end() :]
            where = f"{source}:{position.group(1)}:{position.group(2)}"
        raise SuiteError(f"invalid TOML: {message}", where=where, hint="fix the syntax at that line") from None
    try:
        return SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        raise _translate(exc, raw, text, source) from None


def _translate(exc: ValidationError, raw: dict[str, Any], text: str, source: str) -> SuiteError:
    """The first validation error, in the user's terms (others usually follow from the same typo)."""
    errors = exc.errors()
    # An unknown key is usually a typo, and the "missing key" it causes is noise: report it first.
    error = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc: Loc = tuple(error["loc"])
    more = exc.error_count() - 1
    suffix = f" ({more} more problem{'s' if more > 1 else ''} after this one)" if more else ""
    where = _where(text, source, loc)
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = sorted(_fields_at(loc[:-1]))
        suggestion = close_matches(key, known)
        hint = (suggestion + " " if suggestion else "") + f"keys allowed in {_section(loc[:-1])}: {', '.join(known)}"
        return SuiteError(f"unknown key '{key}' in {_section(loc[:-1])}{suffix}", where=where, hint=hint)
    if error["type"] == "missing":
        key = str(loc[-1])
        return SuiteError(
            f"missing required key '{key}' in {_section(loc[:-1])}{suffix}",
            where=where,
            hint=f"add `{key} = ...` there",
        )
    value = _raw_value(raw, loc)
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if isinstance(value, dict) and _fields_at(loc):  # a rule across a section's keys, e.g. requests xor duration_s
        return SuiteError(f"{_section(loc)} is invalid: {message}{suffix}", where=where, hint="change the section in the suite")
    return SuiteError(
        f"{_dotted(raw, loc)} = {_show(value)} is invalid: {message}{suffix}",
        where=where,
        hint="change the value in the suite",
    )


def _dotted(raw: dict[str, Any], loc: Loc) -> str:
    """``train.batch_size`` / ``models[1].name``; drops the list index pydantic adds to a scalar axis value."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            if not isinstance(node, list):
                break
            out += f"[{part}]"
            node = node[part] if part < len(node) else None
        else:
            out += ("." if out else "") + part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _raw_value(raw: dict[str, Any], loc: Loc) -> Any:
    node: Any = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(part, int):
            break  # a scalar the axis validator wrapped into a list
        else:
            return None
    return node


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _section(loc: Loc) -> str:
    if not loc:
        return "the top level"
    name = ".".join(str(p) for p in loc if isinstance(p, str))
    indexes = [p for p in loc if isinstance(p, int)]
    if indexes:
        return f"[[{name}]] #{indexes[-1] + 1}"
    return f"[{name}]"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc: Loc) -> list[str]:
    """Field names of the schema model found at ``loc`` (for 'did you mean' hints)."""
    model: type[BaseModel] = SuiteSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        nested = _model_in(field.annotation) if field else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _where(text: str, source: str, loc: Loc) -> str:
    line = _line_of(text, loc)
    return f"{source}:{line}" if line else source


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")


def _line_of(text: str, loc: Loc) -> int | None:
    """Best-effort line number of the key at ``loc`` (tomllib keeps no positions)."""
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    index = next((p for p in loc if isinstance(p, int)), 0)
    lines = text.splitlines()
    # Sections: the longest leading run of keys that names a [header]; the key follows inside it.
    for depth in range(len(keys) - 1, -1, -1):
        header = ".".join(keys[:depth])
        key = keys[depth] if depth < len(keys) else None
        seen, inside = -1, depth == 0
        for number, line in enumerate(lines, start=1):
            match = _HEADER.match(line)
            if match:
                inside = match.group(1) == header and depth > 0
                if inside:
                    seen += 1
                    inside = seen == index or not line.lstrip().startswith("[[")
                    if key is None:
                        return number
                continue
            if inside and key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return number
    return None

