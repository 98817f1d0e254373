"""Plain, strict JSON values for ``summary.json`` and ``compare.json`` (written with ``allow_nan=False``).

One cleaner for every report file: NaN and infinities become None (a figure that could not be
measured), tuples become lists, numpy scalars become Python numbers, keys become strings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def strict_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
