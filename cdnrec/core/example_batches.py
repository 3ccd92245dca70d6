"""tf.Examples encoded and decoded a batch at a time, in C++.

The columnar twin of example_io's per-row functions: Arrow columns become
serialized tf.Examples through tfx_bsl's `RecordBatchToExamples` (the coder
TFX's own components use), and serialized examples become Arrow columns
through tfx_bsl's decoder. A missing value (an empty token, no tokens, an
empty float cell) is a null list, which the encoder writes as a feature
with no values: `tf.io.parse_example` reads it exactly as an absent one.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tfx_bsl.coders import example_coder

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


def encode(columns: Dict[str, pa.Array]) -> List[bytes]:
  """Serialized tf.Examples, one per row."""
  if not columns:
    return []
  batch = pa.RecordBatch.from_arrays(list(columns.values()),
                                     list(columns.keys()))
  return example_coder.RecordBatchToExamples(batch)


def interaction_columns(user_id: pa.Array, item_id: pa.Array,
                        item_index: np.ndarray,
                        timestamp: Optional[np.ndarray],
                        user_features: Dict[str, pa.Array],
                        item_features: Dict[str, pa.Array]
                        ) -> Dict[str, pa.Array]:
  """Columns of interaction examples (example_io.interaction_example)."""
  columns = {F.USER_ID: ids(user_id), F.ITEM_ID: ids(item_id),
             F.ITEM_INDEX: ints(item_index)}
  if timestamp is not None:
    columns[F.TIMESTAMP] = ints(np.rint(timestamp))
  columns.update(user_features)
  columns.update(item_features)
  return columns


def decoder(names: Sequence[str]):
  """A C++ decoder of the named features only (the rest are skipped)."""
  from tensorflow_metadata.proto.v0 import schema_pb2
  schema = schema_pb2.Schema()
  for name in names:
    feature = schema.feature.add()
    feature.name = name
    feature.type = (schema_pb2.INT if name in (F.ITEM_INDEX, F.TIMESTAMP)
                    else schema_pb2.BYTES)
  return example_coder.ExamplesToRecordBatchDecoder(
      schema.SerializeToString())


def first_values(batch: pa.RecordBatch, name: str) -> pa.Array:
  """The single value of every row's `name` (a required feature)."""
  column = batch.column(batch.schema.get_field_index(name))
  if column.null_count:
    raise ValueError(f"feature {name!r} is missing in "
                     f"{column.null_count} example(s); every example needs it")
  return column.flatten()
