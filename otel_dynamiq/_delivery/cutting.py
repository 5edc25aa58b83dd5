"""Cut an oversized run down to a byte budget, largest values first, keeping its shape.

Pure functions, no I/O. A run over the request cap is nearly always one or
two huge values (an inline image, a pasted document, an embedding, a 6 MB
span attribute) among many small ones. Cutting whole fields would throw away
what makes the run readable and countable (its group, model and usage sit in
``metadata``), and turning an object into a cut JSON string would make the
service show text where it expects ``{"messages": ...}``. So the budget is
shared over the leaves: small values stay whole, the largest are cut to an
equal share each (a string keeps its beginning, a list of numbers or other
scalars its first items), each cut value carries the marker, and every object
keeps its keys. What identifies and counts a run is never cut:
``metadata.usage``, the node's name, group, model and provider, and the
usage a run shows without counting it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

CONTENT_FIELDS = ("input", "output", "metadata", "executions", "error")
"""The run's fields that may be cut; the others identify the run and are small."""

_KEPT_WHOLE: frozenset[tuple[str, ...]] = frozenset(
    {
        ("metadata", "usage"),
        ("metadata", "node", "name"),
        ("metadata", "node", "group"),
        ("metadata", "node", "model"),
        ("metadata", "node", "provider"),
        ("metadata", "otel", "usage"),
        ("metadata", "otel", "usage_counted_in"),
        ("metadata", "otel", "usage_aggregate"),
    }
)
_SMALLEST_CUT_BYTES = 64
"""Values no larger than this are never cut: a marker would be longer than what it saves."""

Path = tuple[Any, ...]


@dataclass(frozen=True)
class _Leaf:
    path: Path
    value: Any
    size: int


def cut_to_fit(
    run: dict[str, Any],
    encoded_size: int,
    max_bytes: int,
    encode: Callable[[Any], bytes],
    marker: Callable[[int, int], str],
) -> bytes | None:
    """The run encoded in at most ``max_bytes`` with its largest values cut, or None when cutting values
    cannot get there (too many small ones): the caller then cuts whole fields.

    ``encoded_size`` is the length of the run's JSON, which the caller has already encoded;
    ``marker(dropped, total)`` is the text appended to each cut value; ``run`` is never changed.
    """
    leaves = sorted(_cuttable_leaves(run, encode), key=lambda leaf: leaf.size)
    if not leaves:
        return None
    fixed = encoded_size - sum(leaf.size for leaf in leaves)
    marker_room = len(marker(10**9, 10**9)) + 8  # the marker with the widest numbers, its quotes and a comma
    room = max_bytes - fixed
    for _ in range(6):
        shares = _water_level(room, leaves, marker_room)
        if shares is None:
            return None
        cut = _with_cuts(run, leaves, shares, encode, marker)
        encoded = encode(cut)
        if len(encoded) <= max_bytes:
            return encoded
        room -= len(encoded) - max_bytes  # escaping made some kept text longer than its share
    return None


def _cuttable_leaves(run: dict[str, Any], encode: Callable[[Any], bytes]) -> Iterator[_Leaf]:
    for field in CONTENT_FIELDS:
        if field in run:
            yield from _leaves_of(run[field], (field,), encode)


def _leaves_of(value: Any, path: Path, encode: Callable[[Any], bytes]) -> Iterator[_Leaf]:
    """Strings, and lists holding only scalars, are cut as one; objects and other lists are walked into."""
    if path in _KEPT_WHOLE:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves_of(item, (*path, key), encode)
    elif isinstance(value, list) and not all(_is_scalar(item) for item in value):
        for index, item in enumerate(value):
            yield from _leaves_of(item, (*path, index), encode)
    elif isinstance(value, (str, list)):
        size = len(encode(value))
        if size > _SMALLEST_CUT_BYTES:
            yield _Leaf(path, value, size)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float))


def _water_level(room: int, leaves: list[_Leaf], marker_room: int) -> dict[Path, int] | None:
    """Each leaf's byte share: the smallest stay whole, the rest get an equal share of what is left.

    ``leaves`` is sorted by size. A cut leaf needs ``marker_room`` besides its
    kept text; None when even cutting every leaf to its marker does not fit.
    """
    remaining = room
    for position, leaf in enumerate(leaves):
        still = len(leaves) - position
        if leaf.size * still <= remaining:
            remaining -= leaf.size
            continue
        share = remaining // still - marker_room
        if share < 0:
            return None
        return {later.path: share for later in leaves[position:]}
    return {}


def _with_cuts(
    run: dict[str, Any],
    leaves: list[_Leaf],
    shares: dict[Path, int],
    encode: Callable[[Any], bytes],
    marker: Callable[[int, int], str],
) -> dict[str, Any]:
    cut: dict[str, Any] = dict(run)
    copied: set[Path] = {()}
    for leaf in leaves:
        if leaf.path in shares:
            _replace(cut, leaf.path, _cut_value(leaf, shares[leaf.path], encode, marker), copied)
    return cut


def _cut_value(leaf: _Leaf, share: int, encode: Callable[[Any], bytes], marker: Callable[[int, int], str]) -> Any:
    if isinstance(leaf.value, str):
        data = leaf.value.encode("utf-8", "surrogatepass")
        kept = data[:share].decode("utf-8", "ignore")
        return kept + marker(len(data) - len(kept.encode("utf-8", "surrogatepass")), len(data))
    kept_items: list[Any] = []
    used = 2  # the brackets
    for item in leaf.value:
        item_size = len(encode(item)) + 1
        if used + item_size > share:
            break
        kept_items.append(item)
        used += item_size
    return [*kept_items, marker(leaf.size - used, leaf.size)]


def _replace(root: dict[str, Any], path: Path, value: Any, copied: set[Path]) -> None:
    """Set ``value`` at ``path``, copying each container on the way once, so the run given is never changed."""
    container: Any = root
    for depth in range(1, len(path)):
        prefix = path[:depth]
        child = container[path[depth - 1]]
        if prefix not in copied:
            child = dict(child) if isinstance(child, dict) else list(child)
            container[path[depth - 1]] = child
            copied.add(prefix)
        container = child
    container[path[-1]] = value
