"""Non-neural baselines of `cdnrec experiment`: MostPopular and EASE
(Steck, WWW 2019), so every results table shows whether the neural models
are worth their cost on the data at hand.

Both are scored by the Evaluator's own ranking (core/ranking.py,
the same exclusion of each user's earlier items, the same slices): a
"user embedding" and "item vectors" whose products are the method's
scores. Both learn from the train split only, as the neural models do.

  most_popular: every user gets the items by train frequency; the vectors
    are [1] and [popularity rank from the bottom], so ties between equally
    frequent items are broken by catalog order, never in the target's
    favour.
  ease: B = argmin ||X - XB||² + λ||B||², diag(B) = 0, in closed form
    from P = (XᵀX + λI)⁻¹; a user's scores are X_u B. λ is chosen on the
    validation split. Two forms, the same ranking:
      items: B itself, when items are no more than users. The user
        embedding is the user's row of X, the item vectors are Bᵀ.
      users: when that needs less memory (users fewer than items, about),
        Woodbury's identity gives what scoring needs from the user x user
        M = (XXᵀ + λI)⁻¹ (ease_user_form): a catalog far wider than its
        user base costs a small inverse, not an item x item one. The user
        embedding is the user's row of M. The scores equal X_u B on every
        item outside the user's own train items; those the protocol
        removes from the candidates, and a held-out item is never one of
        them (ExampleGen keeps one interaction per pair).
    Both need dense matrices (ease_bytes), so data above MAX_EASE_BYTES is
    refused. Two extra dimensions keep exact
    ties out of the target's favour (the Evaluator counts only items scored
    strictly above it): items with no train interaction, which EASE cannot
    score (their column of B is zero), rank below every other item; a user
    with no train items gets the MostPopular order.
"""

import os
import time
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse
import tensorflow as tf

from cdnrec.core import artifacts
from cdnrec.core import features as F
from cdnrec.core import item_stats
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking
from cdnrec.core.errors import ConfigError
from cdnrec.experiment import data as data_lib
from cdnrec.experiment import methods as methods_lib
from cdnrec.experiment import run as run_lib

METHODS = methods_lib.BASELINES
# λ values tried on the validation split (EASE's paper reports 200-1000 on
# its data sets; smaller catalogs want less).
EASE_LAMBDAS = (1.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 3000.0)
# What a 24 GB machine spares for EASE's dense matrices (ease_bytes):
# three float64 item x item ones at 20,000 items.
MAX_EASE_BYTES = 9_600_000_000
# An item EASE cannot score ranks below every scored one (EASE's scores
# are sums of at most n_items weights of magnitude below 1 here).
_NEVER = -1e9
# Items per block when computing diag(P) in the user form: M times a
# block of X's columns is dense users x block.
_ITEM_CHUNK = 4096


def _item_form_bytes(n_items: int) -> int:
  # G + λI, LAPACK's copy of it and P (then B, in place): float64 item x
  # item; B's float32 vectors come after G is freed.
  return 3 * 8 * n_items * n_items


def _user_form_bytes(n_users: int, n_items: int) -> int:
  # XXᵀ + λI, LAPACK's copy and M (float64 user x user), then the float32
  # items x users vectors (allocated once) beside M.
  return 3 * 8 * n_users * n_users + 4 * n_users * n_items


def use_user_form(n_users: int, n_items: int) -> bool:
  return _user_form_bytes(n_users, n_items) < _item_form_bytes(n_items)


def ease_bytes(n_users: int, n_items: int) -> int:
  """The dense matrices alive at once while fitting, in the form used."""
  return min(_user_form_bytes(n_users, n_items), _item_form_bytes(n_items))


class _Interactions:
  """The train split as a user x item matrix over the catalog's items."""

  def __init__(self, prepared: data_lib.PreparedData):
    self.item_ids = _catalog_ids(prepared.uri("item_catalog"))
    items = pa.array(self.item_ids, pa.string())
    users: List[pa.Array] = []
    columns: List[np.ndarray] = []
    for batch_users, batch_items in queries_lib.pairs(
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

  def matrix(self) -> scipy.sparse.csr_matrix:
    """X, sparse, repeats counting once: X itself is never dense (users x
    items would dwarf the rest)."""
    x = scipy.sparse.csr_matrix(
        (np.ones(len(self.rows)), (self.rows, self.columns)),
        shape=(len(self.user_ids), len(self.item_ids)))
    x.data[:] = 1.0  # the constructor summed repeated pairs
    return x

  def gram(self) -> np.ndarray:
    """XᵀX (items x items, dense)."""
    x = self.matrix()
    return (x.T @ x).toarray()

  def user_rows(self, serialized: Sequence[bytes]) -> np.ndarray:
    """Each query's row of X (zeros for a user with no train items), and
    the two tie-breaking dimensions: 1, and 1 when the row is empty."""
    n_items = len(self.item_ids)

    def row_of_x(row: int) -> np.ndarray:
      out = np.zeros(n_items, np.float32)
      out[self._sorted_columns[self._starts[row]:self._starts[row + 1]]] = 1
      return out

    return self.embed_users(serialized, row_of_x, n_items)

  def embed_users(self, serialized: Sequence[bytes],
                  vector_of_row: Callable[[int], np.ndarray], width: int
                  ) -> np.ndarray:
    """vector_of_row(the query user's row of X) for each query (zeros for a
    user with no train items), and the two tie-breaking dimensions: 1, and
    1 when the user has no train items."""
    parsed = tf.io.parse_example(
        tf.constant(list(serialized)),
        {F.USER_ID: tf.io.FixedLenFeature([], tf.string)})
    out = np.zeros((len(serialized), width + 2), np.float32)
    out[:, width] = 1.0
    for i, user in enumerate(parsed[F.USER_ID].numpy()):
      row = self._row_of.get(user.decode())
      if row is not None and self._starts[row + 1] > self._starts[row]:
        out[i, :width] = vector_of_row(row)
      else:
        out[i, width + 1] = 1.0  # no history: the popularity order
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


def ease_weights(gram: np.ndarray, l2: float, overwrite: bool = False
                 ) -> np.ndarray:
  """EASE's B (items x items, zero diagonal) from XᵀX. overwrite: gram
  (float64) may be changed, which spares a copy of it: with it, at most
  three item x item matrices are alive (gram, LAPACK's copy, the inverse),
  as ease_bytes counts."""
  if not overwrite or gram.dtype != np.float64:
    gram = np.array(gram, dtype=np.float64, copy=True)
  gram[np.diag_indices_from(gram)] += l2
  p = np.linalg.inv(gram)
  del gram
  p /= -np.diag(p).copy()[None, :]
  p[np.diag_indices_from(p)] = 0.0
  return p


def ease_user_form(x: scipy.sparse.csr_matrix, l2: float,
                   extra_columns: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """EASE through M = (XXᵀ + λI)⁻¹ (users x users): (M, W), W items x
  users float32, with X_u B = X_u + M_u Wᵀ, so M_u Wᵀ is X_u B outside
  the user's own items.

  Woodbury: P = (XᵀX + λI)⁻¹ = (I - XᵀMX) / λ, so X_u P = M_u X (as
  XXᵀM = I - λM), and diag(P)_j = (1 - x_jᵀ M x_j) / λ for item column
  x_j. With B = I - P diag(P)⁻¹: X_u B = X_u - M_u X diag(P)⁻¹, so
  W = -Xᵀ diag(P)⁻¹. Scores are sums of M_u's entries over an item's
  users, with no large terms cancelling (as (XXᵀ)_u M would).

  extra_columns: zero columns after W's users (the caller's tie-breaking
  dimensions), so the item vectors are allocated once.
  """
  x = scipy.sparse.csc_matrix(x, dtype=np.float64)
  x.sum_duplicates()
  gram = (x @ x.T).toarray()
  gram[np.diag_indices_from(gram)] += l2
  m = np.linalg.inv(gram)
  del gram
  quadratic = np.zeros(x.shape[1])
  for start in range(0, x.shape[1], _ITEM_CHUNK):
    columns = x[:, start:start + _ITEM_CHUNK]
    quadratic[start:start + _ITEM_CHUNK] = np.asarray(
        columns.multiply(m @ columns).sum(axis=0)).ravel()
  diag_p = (1.0 - quadratic) / l2
  weights = np.zeros((x.shape[1], x.shape[0] + extra_columns), np.float32)
  coo = x.tocoo()
  weights[coo.col, coo.row] = -coo.data / diag_p[coo.col]
  return m, weights


def check_size(method: str, n_users: int, n_items: int) -> None:
  if method == "ease" and ease_bytes(n_users, n_items) > MAX_EASE_BYTES:
    held = (f"dense {n_users:,} x {n_users:,} and {n_items:,} x "
            f"{n_users:,} matrices" if use_user_form(n_users, n_items) else
            f"dense {n_items:,} x {n_items:,} matrices")
    raise ConfigError(
        f"ease: the train split has {n_users:,} users and {n_items:,} "
        f"items; EASE's closed form holds {held} "
        f"({ease_bytes(n_users, n_items) / 1e9:.1f} GB), more than the "
        f"{MAX_EASE_BYTES / 1e9:.1f} GB this machine spares; leave ease "
        "out of --methods (the default includes it: e.g. --methods "
        "cdn,two_tower,most_popular)")


def ease_scorer(data: _Interactions, l2: float, user_form: bool
                ) -> Tuple[Callable[[Sequence[bytes]], np.ndarray],
                           np.ndarray]:
  """EASE's user embedding function and item vectors, in either form."""
  if user_form:
    m, item_vectors = ease_user_form(data.matrix(), l2, extra_columns=2)
    embed = lambda serialized: data.embed_users(
        serialized, lambda row: m[row], len(m))
  else:
    weights = ease_weights(data.gram(), l2, overwrite=True).T
    item_vectors = np.empty((len(weights), weights.shape[1] + 2),
                            np.float32)
    item_vectors[:, :-2] = weights
    del weights
    embed = data.user_rows
  cold = np.bincount(data.columns, minlength=len(data.item_ids)) == 0
  item_vectors[:, -2] = np.where(cold, _NEVER, 0.0)
  item_vectors[:, -1] = data.popularity_order()
  return embed, item_vectors


def _evaluate(prepared: data_lib.PreparedData, embed, item_ids: np.ndarray,
              item_vectors: np.ndarray, k: int, splits: Sequence[str]
              ) -> Dict[str, Dict]:
  rows = item_stats.load_item_rows(prepared.item_stats_uri)
  return {split: ranking.evaluate_embeddings(
      embed, item_ids, item_vectors,
      queries_lib.load(prepared.examples_uri, split,
                             ranking.exclude_splits(split), None),
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
  n_users, n_items = len(data.user_ids), len(data.item_ids)
  check_size(method, n_users, n_items)
  popularity = data.popularity_order()
  if method == "most_popular":
    # Distinct scores: the evaluator counts only items strictly above the
    # target, so ties must not all count in its favour.
    item_vectors = popularity[:, None]
    embed = lambda serialized: np.ones((len(serialized), 1), np.float32)
  else:
    embed, item_vectors = ease_scorer(
        data, float(settings["l2"]), use_user_form(n_users, n_items))
  fit_seconds = time.perf_counter() - started
  metrics = _evaluate(prepared, embed, data.item_ids, item_vectors, k, splits)
  return run_lib.RunResult({"model": method, **settings}, metrics,
                           [fit_seconds])
