"""Arrow's string views, read as numbers: what a first look at a text column needs.

Polars keeps text as Arrow string views: 16 bytes a value, four little-endian 32-bit
words. The first is the value's length in bytes; a value of 12 bytes or fewer is held
whole in the other 12, a longer one by its first 4 bytes, then the index of the data
buffer holding it and its offset there (Arrow columnar format, "Variable-size Binary
View Layout"). A whole column's views are one array: a look at each value's length,
first byte or place costs one vector operation, not one string operation a value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# The words of a view: its length; its first bytes; (beyond 12 bytes) buffer and offset.
LENGTH, PREFIX, BUFFER, OFFSET = 0, 1, 2, 3


def string_views(array: pa.Array) -> np.ndarray | None:
    """The views of a string-view array's values, one row of four words a value (from
    the array's own offset); None for an array in another layout."""
    if not pa.types.is_string_view(array.type):
        return None
    views = np.frombuffer(array.buffers()[1], dtype="<u4").reshape(-1, 4)
    return views[array.offset : array.offset + len(array)]
