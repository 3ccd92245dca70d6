"""Non-neural baselines of `cdnrec experiment`: MostPopular and EASE
(Steck, WWW 2019), so every results table shows whether the neural models
are worth their cost on the data at hand.

Both are scored by the Evaluator's own ranking (evaluator.evaluate_embeddings,
the same exclusion of each user's earlier items, the same slices): a
"user embedding" and "item vectors" whose products are the method's
scores. Both learn from the train split only, as the neural models do.

  most_popular: every user gets the items by train frequency; the vectors
    are [1] and [popularity rank from the bottom], so ties between equally
    frequent items are broken by catalog order, never in the target's
    favour.
  ease: B = argmin ||X - XB||² + λ||B||², diag(B) = 0, in closed form
    from (XᵀX + λI)⁻¹; a user's scores are X_u B, so the user embedding is
    the user's row of X and the item vectors are Bᵀ. λ is chosen on the
    validation split. It needs dense item x item matrices, so catalogs above
    MAX_EASE_ITEMS are refused. Two extra dimensions keep exact ties out of
    the target's favour (the Evaluator counts only items scored strictly
    above it): items with no train interaction, which EASE cannot score
    (their column of B is zero), rank below every other item; a user with
    no train items gets the MostPopular order.
"""

import os
import time
from typing import Dict, List, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse
import tensorflow as tf

from cdnrec.components.evaluator import executor as evaluator
from cdnrec.components.evaluator import queries as evaluator_queries
from cdnrec.core import artifacts
from cdnrec.core import features as F
from cdnrec.core import item_stats
from cdnrec.core.errors import ConfigError
from cdnrec.experiment import data as data_lib
from cdnrec.experiment import methods as methods_lib
from cdnrec.experiment import run as run_lib

METHODS = methods_lib.BASELINES
# λ values tried on the validation split (EASE's paper reports 200-1000 on
# its data sets; smaller catalogs want less).
EASE_LAMBDAS = (1.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 3000.0)
# Three dense float64 item x item matrices live at once while fitting:
# 20,000 items take 9.6 GB, what a 24 GB machine spares.
MAX_EASE_ITEMS = 20_000
# An item EASE cannot score ranks below every scored one (EASE's scores
# are sums of at most n_items weights of magnitude below 1 here).
_NEVER = -1e9


def ease_bytes(n_items: int) -> int:
  return 3 * 8 * n_items * n_items


class _Interactions:
  """The train split as a user x item matrix over the catalog's items."""

  def __init__(self, prepared: data_lib.PreparedData):
    self.item_ids = _catalog_ids(prepared.uri("item_catalog"))
    items = pa.array(self.item_ids, pa.string())
    users: List[pa.Array] = []
    columns: List[np.ndarray] = []
    for batch_users, batch_items in evaluator_queries.pairs(
        prepared.examples_uri, "train"):
      column = pc.index_in(batch_items, value_set=items)
      keep = column.is_valid()
      users.append(batch_users.filter(keep))
      columns.append(column.drop_null().to_numpy().astype(np.int64))
    all_users = (pa.concat_arrays(users) if users
                 else pa.array([], pa.string()))
    self.user_ids = pc.unique(all_users)
    rows = pc.index_in(all_users, value_set=self.user_ids).to_numpy()
    self.rows = rows.astype(np.int64)
    self.columns = (np.concatenate(columns) if columns
                    else np.zeros(0, np.int64))
    self._row_of = {u: i for i, u in enumerate(self.user_ids.to_pylist())}
    # Each user's columns, contiguous (CSR): user_rows reads them per query.
    order = np.argsort(self.rows, kind="stable")
    self._sorted_columns = self.columns[order]
    self._starts = np.concatenate([[0], np.cumsum(np.bincount(
        self.rows, minlength=len(self.user_ids)))])

  def gram(self) -> np.ndarray:
    """XᵀX (items x items, dense) from a sparse X whose repeats count
    once: X itself is never dense (users x items would dwarf the rest)."""
    x = scipy.sparse.csr_matrix(
        (np.ones(len(self.rows)), (self.rows, self.columns)),
        shape=(len(self.user_ids), len(self.item_ids)))
    x.data[:] = 1.0  # the constructor summed repeated pairs
    return (x.T @ x).toarray()

  def user_rows(self, serialized: Sequence[bytes]) -> np.ndarray:
    """Each query's row of X (zeros for a user with no train items), and
    the two tie-breaking dimensions: 1, and 1 when the row is empty."""
    parsed = tf.io.parse_example(
        tf.constant(list(serialized)),
        {F.USER_ID: tf.io.FixedLenFeature([], tf.string)})
    n_items = len(self.item_ids)
    out = np.zeros((len(serialized), n_items + 2), np.float32)
    out[:, n_items] = 1.0
    for i, user in enumerate(parsed[F.USER_ID].numpy()):
      row = self._row_of.get(user.decode())
      if row is not None:
        out[i, self._sorted_columns[self._starts[row]:
                                    self._starts[row + 1]]] = 1.0
      if not out[i, :n_items].any():
        out[i, n_items + 1] = 1.0  # no history: the popularity order
    return out

  def popularity_order(self) -> np.ndarray:
    """n_items .. 1 by train frequency, ties by catalog column: distinct."""
    n_items = len(self.item_ids)
    counts = np.bincount(self.columns, minlength=n_items)
    order = np.lexsort((np.arange(n_items), -counts))
    score = np.empty(n_items, np.float32)
    score[order] = np.arange(n_items, 0, -1, dtype=np.float32)
    return score


def _catalog_ids(catalog_uri: str) -> np.ndarray:
  path = os.path.join(catalog_uri, artifacts.CATALOG_FILE)
  ids = []
  for batch in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(
      8192):
    ids.append(tf.io.parse_example(batch, {F.ITEM_ID: tf.io.FixedLenFeature(
        [], tf.string)})[F.ITEM_ID].numpy())
  return np.concatenate(ids).astype(str) if ids else np.zeros(0, str)


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
  """EASE's B (items x items, zero diagonal) from XᵀX."""
  gram = np.array(gram, dtype=np.float64, copy=True)
  gram[np.diag_indices_from(gram)] += l2
  p = np.linalg.inv(gram)
  b = -p / np.diag(p)[None, :]
  b[np.diag_indices_from(b)] = 0.0
  return b


def check_catalog(method: str, n_items: int) -> None:
  if method == "ease" and n_items > MAX_EASE_ITEMS:
    raise ConfigError(
        f"ease: the catalog has {n_items:,} items; EASE's closed form holds "
        f"three dense {n_items:,} x {n_items:,} matrices "
        f"({ease_bytes(n_items) / 1e9:.1f} GB), more than "
        f"{MAX_EASE_ITEMS:,} items ({ease_bytes(MAX_EASE_ITEMS) / 1e9:.1f} "
        "GB) does not fit this machine; leave ease out of --methods")


def _evaluate(prepared: data_lib.PreparedData, embed, item_ids: np.ndarray,
              item_vectors: np.ndarray, k: int, splits: Sequence[str]
              ) -> Dict[str, Dict]:
  rows = item_stats.load_item_rows(prepared.item_stats_uri)
  return {split: evaluator.evaluate_embeddings(
      embed, item_ids, item_vectors,
      evaluator_queries.load(prepared.examples_uri, split,
                             evaluator.exclude_splits(split), None),
      rows, k, split) for split in splits}


def run(method: str, prepared: data_lib.PreparedData, k: int,
        settings: Dict, splits: Sequence[str] = ("eval", "test")
        ) -> run_lib.RunResult:
  """One fit and evaluation of a baseline (settings: {"l2": λ} for ease)."""
  if method not in METHODS:
    raise ConfigError(f"unknown baseline {method!r}; choose from "
                      f"{list(METHODS)}")
  started = time.perf_counter()
  data = _Interactions(prepared)
  n_items = len(data.item_ids)
  check_catalog(method, n_items)
  popularity = data.popularity_order()
  if method == "most_popular":
    # Distinct scores: the evaluator counts only items strictly above the
    # target, so ties must not all count in its favour.
    item_vectors = popularity[:, None]
    embed = lambda serialized: np.ones((len(serialized), 1), np.float32)
  else:
    b = ease_weights(data.gram(), float(settings["l2"]))
    cold = np.bincount(data.columns, minlength=n_items) == 0
    item_vectors = np.concatenate(
        [b.T, np.where(cold, _NEVER, 0.0)[:, None], popularity[:, None]],
        axis=1).astype(np.float32)
    embed = data.user_rows
  fit_seconds = time.perf_counter() - started
  metrics = _evaluate(prepared, embed, data.item_ids, item_vectors, k, splits)
  return run_lib.RunResult({"model": method, **settings}, metrics,
                           [fit_seconds])
