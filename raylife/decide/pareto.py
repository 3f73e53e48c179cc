"""The Pareto front: the candidates no other candidate is at least as good as in every metric and better in one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def dominates(a: Mapping[str, float | None], b: Mapping[str, float | None], better: Mapping[str, int]) -> bool:
    """Whether ``a`` is at least as good as ``b`` in every metric of ``better`` (metric → +1 higher is better, -1
    lower is better) and better in one. A metric either lacks decides nothing: no domination."""
    at_least, strictly = True, False
    for metric, sign in better.items():
        x, y = a.get(metric), b.get(metric)
        if x is None or y is None:
            return False
        at_least &= x * sign >= y * sign
        strictly |= x * sign > y * sign
    return at_least and strictly


def front(candidates: Sequence[Mapping[str, float | None]], better: Mapping[str, int]) -> set[int]:
    """Indices of the candidates on the Pareto front of the metrics in ``better``."""
    return {i for i, c in enumerate(candidates)
            if not any(dominates(o, c, better) for j, o in enumerate(candidates) if j != i)}


__all__ = ["dominates", "front"]
