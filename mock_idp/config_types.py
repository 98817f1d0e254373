"""Check a config table's values against the dataclass they configure, before anything starts.

TOML gives strings, integers, floats, booleans and arrays; a dataclass field says which it needs. A value
of the wrong type (``port = "abc"``, ``workers = 1.5``) is one clear ``ValueError`` naming the key, not a
``TypeError`` from deep inside the server after it has bound its port.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

_NUMBER = "a number"


def _convert(kind: str, value: Any) -> Any:
    """The value as the field's type wants it, or raise TypeError with what was expected."""
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError("a string")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError("true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("a whole number")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(_NUMBER)
        return float(value)
    if kind.startswith("tuple[float"):
        if not isinstance(value, list | tuple) or any(
            isinstance(v, bool) or not isinstance(v, int | float) for v in value
        ):
            raise TypeError("a list of numbers")
        return tuple(float(v) for v in value)
    return value  # nested tables and lists are checked by whoever reads them


def typed(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` with every value of a known field checked (and ints widened to floats where wanted);
    keys that are not fields of ``cls`` are passed through for the caller to reject."""
    kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    out = dict(data)
    for key, value in data.items():
        if key in kinds:
            try:
                out[key] = _convert(kinds[key], value)
            except TypeError as exc:
                raise ValueError(f"{where}{key} = {value!r} must be {exc}") from None
    return out
