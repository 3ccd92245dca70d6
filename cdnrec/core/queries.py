"""The held-out examples the Evaluator ranks, and what each user has seen.

With many held-out users, ranking every one against the whole catalog costs
n_users x n_items dot products; the Evaluator ranks a seeded sample of users
instead (the same users for the candidate and the reference model) and
reports the standard errors the sample implies. Everything is read a batch
at a time: memory holds the sampled queries and their users' histories, not
the split.
"""

import dataclasses
from typing import Iterator, List, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf

from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.core import fingerprints

_BATCH = 1 << 15


def _batches(examples_uri: str, split: str, with_records: bool = False
             ) -> Iterator[Tuple[Optional[np.ndarray], pa.Array, pa.Array]]:
  """(serialized or None, user ids, item ids) per batch of a split."""
  files = sorted(tf.io.gfile.glob(example_io.split_pattern(examples_uri,
                                                           split)))
  if not files:
    return
  spec = {F.USER_ID: tf.io.FixedLenFeature([], tf.string),
          F.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
  for serialized in tf.data.TFRecordDataset(
      files, compression_type="GZIP").batch(_BATCH).prefetch(1):
    parsed = tf.io.parse_example(serialized, spec)
    yield (serialized.numpy() if with_records else None,
           pa.array(parsed[F.USER_ID].numpy(), pa.binary()).cast(pa.string()),
           pa.array(parsed[F.ITEM_ID].numpy(), pa.binary()).cast(pa.string()))


def pairs(examples_uri: str, split: str) -> Iterator[Tuple[pa.Array, pa.Array]]:
  """(user ids, item ids) per batch of a split's interactions."""
  for _, users, items in _batches(examples_uri, split):
    yield users, items


@dataclasses.dataclass
class Queries:
  """Held-out examples to rank, and the (query row, item id) pairs removed
  from each query's candidates.

  Attributes:
    records: serialized examples (the model's serving input).
    user_ids, item_ids: of each record.
    population: held-out examples in the split; len(records) of them were
      drawn (all when population <= the limit).
    excluded_rows, excluded_items: the users' own earlier items.
  """
  records: List[bytes]
  user_ids: pa.Array
  item_ids: pa.Array
  population: int
  excluded_rows: np.ndarray
  excluded_items: pa.Array

  @property
  def sampled_share(self) -> float:
    return len(self.records) / self.population if self.population else 1.0


def load(examples_uri: str, split: str, exclude_splits: List[str],
         max_queries: Optional[int], seed: int = 0) -> Queries:
  """The `split` examples of at most max_queries users (None: all), drawn
  by a seeded hash of the user id so any two models see the same users."""
  kept_keys = np.zeros(0, dtype=np.uint64)
  kept_records: List[bytes] = []
  kept_users: List[pa.Array] = []
  kept_items: List[pa.Array] = []
  population = 0
  for records, users, items in _batches(examples_uri, split, True):
    population += len(users)
    keys = np.concatenate([kept_keys, fingerprints.hash64(users, seed)])
    records = kept_records + records.tolist()
    users = pa.concat_arrays(kept_users + [users])
    items = pa.concat_arrays(kept_items + [items])
    if max_queries is not None and len(keys) > max_queries:
      keep = np.sort(np.argpartition(keys, max_queries - 1)[:max_queries])
    else:
      keep = np.arange(len(keys))
    kept_keys = keys[keep]
    kept_records = [records[k] for k in keep.tolist()]
    kept_users = [users.take(pa.array(keep))]
    kept_items = [items.take(pa.array(keep))]
  user_ids = (pa.concat_arrays(kept_users) if kept_users
              else pa.array([], pa.string()))
  item_ids = (pa.concat_arrays(kept_items) if kept_items
              else pa.array([], pa.string()))

  rows, excluded = [], []
  queries = pa.table({"user": user_ids,
                      "row": pa.array(np.arange(len(user_ids)))})
  for s in exclude_splits:
    for _, users, items in _batches(examples_uri, s):
      mine = pc.is_in(users, value_set=user_ids)
      if not pc.any(mine).as_py():
        continue
      pairs = pa.table({"user": users.filter(mine),
                        "item": items.filter(mine)}).join(queries, "user")
      rows.append(pairs.column("row").to_numpy())
      excluded.append(pairs.column("item").combine_chunks())
  return Queries(
      kept_records, user_ids, item_ids, population,
      np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
      pa.concat_arrays(excluded) if excluded else pa.array([], pa.string()))


def first(examples_uri: str, split: str, n: int) -> List[bytes]:
  """The first n serialized examples of a split."""
  out: List[bytes] = []
  for records, _, _ in _batches(examples_uri, split, True):
    out.extend(records[:n - len(out)].tolist())
    if len(out) >= n:
      break
  return out
