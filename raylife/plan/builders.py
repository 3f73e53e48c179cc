"""Find a model builder and read its signature without running any of its code.

``importlib.util.find_spec("pkg.mod")`` imports ``pkg`` (running ``pkg/__init__.py``), and importing a
builder module imports its framework; the planner runs on the driver, which must stay free of both. So the
module is located with ``importlib.machinery.PathFinder`` one package level at a time (no ``__init__``
executed) and its source is read with ``ast``: the attribute must be defined at the module's top level
(a function, class, assignment or import, not a comment), and a function's parameters and annotations tell
which options it takes.
"""

from __future__ import annotations

import ast
import math
import sys
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

from raylife.errors import PlanError, close_matches
from raylife.workloads.options import non_finite, show

# Filled by raylife from the data (not options a suite sets).
POSITIONAL = ("input_shape", "num_classes")
# Built-in models' numeric options are sizes (width, depth, heads, …) or a dropout rate; a decoder's positions and
# rotary base reach further (Llama-3.2's 131,072 positions, rope_theta 500,000).
MAX_SIZE = 65_536
MAX_OF = {"positions": 1_048_576, "rope_theta": 100_000_000}


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: str | None  # source text, e.g. "int", "float | None"
    has_default: bool


@dataclass(frozen=True)
class BuilderSource:
    """What the source says about ``module:attr``; ``parameters`` is None when it cannot tell."""

    module: str
    attr: str
    origin: Path | None
    parameters: tuple[Parameter, ...] | None
    open_ended: bool = False  # **kwargs


def locate_module(name: str, paths: list[str]) -> Any:
    """The module's spec, found package by package over ``paths`` (then sys.path) without executing anything."""
    if name in sys.builtin_module_names:
        return None  # a C built-in: exists, no source
    parts = name.split(".")
    search: list[str] | None = [*paths, *sys.path]
    spec = None
    for depth in range(1, len(parts) + 1):
        if search is None:
            raise PlanError(f"'{'.'.join(parts[:depth - 1])}' is a module, not a package, so it has no '{parts[depth - 1]}'")
        prefix = ".".join(parts[:depth])
        loaded = sys.modules.get(prefix)
        # Already imported (raylife itself, under an editable install's own finder): its spec runs nothing new.
        spec = loaded.__spec__ if loaded is not None and getattr(loaded, "__spec__", None) else PathFinder.find_spec(prefix, search)
        if spec is None:
            raise PlanError(f"no module named '{'.'.join(parts[:depth])}'")
        locations = spec.submodule_search_locations
        search = list(locations) if locations is not None else None
    return spec


def _defined_names(body: list[ast.stmt]) -> tuple[dict[str, ast.AST], bool]:
    """Top-level names (looking into if/try blocks) and whether a star import makes the answer unknowable."""
    names: dict[str, ast.AST] = {}
    star = False
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = node
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner, inner_star = _defined_names(block)
                names.update(inner)
                star = star or inner_star
    return names, star


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[tuple[Parameter, ...], bool]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    params = [Parameter(a.arg, ast.unparse(a.annotation) if a.annotation else None, d) for a, d in zip(positional, defaults)]
    params += [Parameter(a.arg, ast.unparse(a.annotation) if a.annotation else None, d is not None)
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return tuple(params), args.kwarg is not None


def read_builder(target: str, paths: list[str]) -> BuilderSource:
    """``module:attr`` located and read; PlanError when the module or the attribute is not there."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr or any(not part.isidentifier() for part in module.split(".")):
        raise PlanError(f"builder '{target}' is not of the form 'package.module:function'",
                        hint="write the module's import path and the function name separated by ':'")
    try:
        spec = locate_module(module, paths)
    except PlanError as exc:
        raise PlanError(f"cannot find builder module '{module}' ({exc.what})",
                        hint="check the name, install its package, or add its folder to run.python_path") from None
    origin = Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None
    if origin is None:
        return BuilderSource(module, attr, None, None)  # compiled or namespace: nothing to read
    try:
        tree = ast.parse(origin.read_bytes(), filename=str(origin))
    except (OSError, SyntaxError, ValueError) as exc:
        raise PlanError(f"cannot read builder module '{module}' ({origin}): {exc}", hint="fix the module") from None
    names, star = _defined_names(tree.body)
    head = attr.split(".")[0]
    if head not in names:
        if star:
            return BuilderSource(module, attr, origin, None)  # `from x import *` may define it
        suggestion = close_matches(head, names)
        raise PlanError(f"module '{module}' ({origin}) defines no '{head}'",
                        hint=(suggestion + " " if suggestion else "") + "check the name after ':'")
    node = names[head]
    if "." in attr or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return BuilderSource(module, attr, origin, None)  # a class, an alias or an import: signature unknown here
    params, open_ended = _parameters(node)
    return BuilderSource(module, attr, origin, params, open_ended)


_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _type_problem(annotation: str | None, value: Any) -> str | None:
    if annotation is None:
        return None
    allowed: list[str] = [a.strip() for a in annotation.split("|")]
    if "None" in allowed and value is None:
        return None
    simple = [a for a in allowed if a in _TYPES]
    if len(simple) != len([a for a in allowed if a != "None"]):
        return None  # a type we do not check from source text
    for name in simple:
        if isinstance(value, _TYPES[name]) and not (name != "bool" and isinstance(value, bool)):
            return None
    return f"expected {' or '.join(simple)}"


def check_options(source: BuilderSource, options: dict[str, Any], filled: set[str], builtin: bool) -> str | None:
    """Why ``options`` do not fit the builder, or None. ``filled`` are parameters raylife passes from the data."""
    for name, value in options.items():
        if non_finite(value):
            return f"option {name} = {show(value)} is not a finite number"
    if source.parameters is None:
        return None
    takes = [p for p in source.parameters if p.name not in POSITIONAL and p.name not in filled]
    names = {p.name: p for p in takes}
    for name, value in options.items():
        if name in filled:
            return f"option {name} is set from the data; remove it"
        if name not in names:
            if source.open_ended:
                continue
            suggestion = close_matches(name, names)
            listed = ", ".join(names) or "none"
            return (f"{source.module}:{source.attr} takes no option '{name}'"
                    + (f" ({suggestion})" if suggestion else "") + f"; its options: {listed}")
        problem = _type_problem(names[name].annotation, value)
        if problem:
            return f"option {name} = {show(value)}: {problem}"
        if builtin and isinstance(value, (int, float)) and not isinstance(value, bool):
            most = MAX_OF.get(name, MAX_SIZE)
            low_ok = 0 <= value < 1 if name.endswith("dropout") else 0 < value <= most
            if not low_ok or not math.isfinite(value):
                bounds = "0 <= value < 1" if name.endswith("dropout") else f"0 < value <= {most}"
                return f"option {name} = {show(value)} is out of range ({bounds})"
    missing = [p.name for p in takes if not p.has_default and p.name not in options]
    if missing:
        return f"{source.module}:{source.attr} needs option(s) {', '.join(missing)} (no default)"
    return None
