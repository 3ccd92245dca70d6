"""Arrow columns in the shape tfx_bsl's tf.Example encoder takes (one list
per row), for example_bytes.feature_entries. A missing value (an empty
token, no tokens, an empty float cell) is a null list, which the encoder writes as a feature
with no values: `tf.io.parse_example` reads it exactly as an absent one.
"""

from typing import Dict, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cdnrec.core import features as F


def _singletons(values: pa.Array, present: np.ndarray) -> pa.Array:
  """A list array holding [v] where present, null elsewhere."""
  offsets = np.concatenate([[0], np.cumsum(present)]).astype(np.int32)
  return pa.ListArray.from_arrays(
      pa.array(offsets), values.filter(pa.array(present)),
      mask=pa.array(~present))


def _present(column: pa.Array) -> np.ndarray:
  return np.asarray(column.is_valid().to_numpy(zero_copy_only=False),
                    dtype=bool)


def feature_column(column: pa.Array, kind: F.Kind) -> pa.Array:
  """A side-file column (as atomic_columns reads it) as a feature list."""
  if isinstance(column, pa.ChunkedArray):
    column = column.combine_chunks()
  if kind == F.Kind.CATEGORICAL:
    present = _present(column) & np.asarray(
        pc.not_equal(column, "").fill_null(False).to_numpy(
            zero_copy_only=False), dtype=bool)
    return _singletons(column.cast(pa.binary()), present)
  if kind == F.Kind.CATEGORICAL_LIST:
    lengths = pc.list_value_length(column).fill_null(0).to_numpy(
        zero_copy_only=False)
    return pa.ListArray.from_arrays(
        column.offsets, column.flatten().cast(pa.binary()),
        mask=pa.array(lengths == 0))
  return _singletons(column.cast(pa.float32()), _present(column))


def feature_columns(table: pa.Table,
                    features: Sequence[F.Feature]) -> Dict[str, pa.Array]:
  return {f.name: feature_column(table.column(f.source), f.kind)
          for f in features}


def ids(values: Sequence[str]) -> pa.Array:
  """[value] per row, as bytes."""
  array = pa.array(values, pa.string()) if not isinstance(
      values, (pa.Array, pa.ChunkedArray)) else values
  if isinstance(array, pa.ChunkedArray):
    array = array.combine_chunks()
  return _singletons(array.cast(pa.binary()), np.ones(len(array), bool))


def ints(values: np.ndarray) -> pa.Array:
  values = np.asarray(values, dtype=np.int64)
  return pa.ListArray.from_arrays(
      pa.array(np.arange(len(values) + 1, dtype=np.int32)), pa.array(values))
