"""Typed options of data loaders and model builders, checked on the driver before anything runs.

A loader declares its options in its signature, with ranges as ``Annotated`` pydantic constraints
(``seq_len: Length = 24``); ``check_call_options`` validates what a suite passes against that signature, so
``size = "five"`` or ``vocab_size = -1`` is a one-line error at ``validate`` time instead of a traceback in a
worker. Strict mode: TOML has real types, so the string "5" is not an integer.
"""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from raylife.errors import DataError

# Ranges that keep sizes sane on any machine; past them a value is a typo, not an experiment.
Count = Annotated[int, Field(ge=1, le=100_000_000)]  # rows, samples, files to read
Samples = Annotated[int, Field(ge=40, le=10_000_000)]  # generated samples: enough to split 5 ways
RandomSamples = Annotated[int, Field(ge=4, le=10_000_000)]  # random rows, generated on demand: one per split
Length = Annotated[int, Field(ge=1, le=65_536)]  # sequence length, image side, one shape entry
Vocab = Annotated[int, Field(ge=4, le=10_000_000)]  # padding + unknown + at least two words
Classes = Annotated[int, Field(ge=2, le=100_000)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
SampleRate = Annotated[int, Field(ge=1_000, le=384_000)]
ClipSeconds = Annotated[float, Field(gt=0, le=60)]
Column = Annotated[str, Field(min_length=1)]

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(hint: Any) -> TypeAdapter[Any]:
    if hint not in _ADAPTERS:
        _ADAPTERS[hint] = TypeAdapter(hint)
    return _ADAPTERS[hint]


def show(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it in TOML (strings quoted, booleans lower-case), cut to ``limit``."""
    text = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def non_finite(value: Any) -> bool:
    """NaN or infinity anywhere in a value (TOML allows both; no size or rate means either)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(non_finite(v) for v in value)
    if isinstance(value, Mapping):
        return any(non_finite(v) for v in value.values())
    return False


@functools.lru_cache(maxsize=None)
def _signature(function: Callable[..., Any]) -> tuple[tuple[str, ...], bool, dict[str, Any]]:
    """Keyword parameters, whether it takes **kwargs, and resolved type hints (evaluating them is slow)."""
    signature = inspect.signature(function)
    names = tuple(n for n, p in signature.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    return names, open_ended, typing.get_type_hints(function, include_extras=True)


def check_call_options(
    function: Callable[..., Any], options: Mapping[str, Any], key: str, skip: tuple[str, ...] = ()
) -> None:
    """Every option is a parameter of ``function`` and fits its annotated type and range; DataError otherwise.

    ``key`` is where the options live in the suite (``data.options``); ``skip`` names parameters raylife
    fills itself (``path``).
    """
    names, open_ended, hints = _signature(function)
    taken = [n for n in names if n not in skip]
    for name, value in options.items():
        if name in skip:
            continue
        if name not in taken and not open_ended:
            from raylife.errors import close_matches

            suggestion = close_matches(name, taken)
            raise DataError(
                f"unknown option {key}.{name}", where=f"{key}.{name}",
                hint=(suggestion + " " if suggestion else "") + f"options taken: {', '.join(taken) or 'none'}",
            )
        if non_finite(value):
            raise DataError(f"{key}.{name} = {show(value)} is invalid: not a finite number", where=f"{key}.{name}",
                            hint="give a finite value")
        hint = hints.get(name)
        if hint is None:
            continue
        try:
            _adapter(hint).validate_python(value, strict=True)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise DataError(f"{key}.{name} = {show(value)} is invalid: {error['msg']}", where=f"{key}.{name}",
                            hint="change the option") from None
