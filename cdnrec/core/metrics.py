"""Full-corpus HR@K and NDCG@K as docs/protocol.md defines them."""

import dataclasses
from typing import Dict, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class SliceMetrics:
  count: int
  hr: float     # in [0, 1]
  ndcg: float   # in [0, 1]
  # Standard errors when the queries are a random sample of `population`
  # (finite-population corrected: 0 when every query was ranked).
  hr_se: float = 0.0
  ndcg_se: float = 0.0


def ranks(scores: np.ndarray, target: np.ndarray,
          excluded: Sequence[Sequence[int]]) -> np.ndarray:
  """Rank of each row's target item among the candidates left.

  rank = number of non-excluded candidates scoring strictly higher than the
  target (0 = top). The target itself is never excluded.

  Args:
    scores: [n, n_items] scores of every item for each query.
    target: [n] column of each query's held-out item.
    excluded: per query, columns removed from the candidates (the user's
      train and validation items).
  """
  scores = np.array(scores, dtype=np.float64, copy=True)
  rows = np.arange(len(target))
  target_scores = scores[rows, target]
  for row, columns in enumerate(excluded):
    if len(columns):
      scores[row, np.asarray(columns, dtype=np.int64)] = -np.inf
  scores[rows, target] = target_scores  # in case the target was excluded
  return (scores > target_scores[:, None]).sum(axis=1)


def slice_metrics(rank: np.ndarray, k: int,
                  sampled_share: float = 1.0) -> SliceMetrics:
  """sampled_share: the share of all queries that `rank` holds (a simple
  random sample); 1 when every query was ranked."""
  if len(rank) == 0:
    return SliceMetrics(0, float("nan"), float("nan"))
  hit = rank < k
  gains = np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)
  correction = max(0.0, 1.0 - sampled_share)
  se = lambda x: float(np.sqrt(x.var() / len(x) * correction))
  return SliceMetrics(int(len(rank)), float(hit.mean()), float(gains.mean()),
                      se(hit.astype(np.float64)), se(gains))


def sliced(rank: np.ndarray, is_head: np.ndarray, k: int,
           sampled_share: float = 1.0) -> Dict[str, SliceMetrics]:
  """Metrics over all test cases and over head / tail test items."""
  return {"overall": slice_metrics(rank, k, sampled_share),
          "head": slice_metrics(rank[is_head], k, sampled_share),
          "tail": slice_metrics(rank[~is_head], k, sampled_share)}


# Item columns scored per matrix product: bounds the [queries, block]
# score matrix (256 MB at 512 queries).
ITEM_BLOCK = 1 << 17


def blocked_ranks(queries: np.ndarray, items: np.ndarray, target: np.ndarray,
                  excluded_rows: np.ndarray, excluded_columns: np.ndarray,
                  item_block: int = ITEM_BLOCK) -> np.ndarray:
  """`ranks` without the [n, n_items] score matrix: items are scored a
  block at a time and only counts are kept.

  Args:
    queries: [n, d] query embeddings; items: [n_items, d].
    target: [n] column of each query's held-out item.
    excluded_rows, excluded_columns: the (query, column) pairs removed from
      the candidates (a query's target is never removed).
  """
  queries = np.asarray(queries, dtype=np.float32)
  items = np.asarray(items, dtype=np.float32)
  target_scores = np.einsum("nd,nd->n", queries, items[target])
  above = np.zeros(len(queries), dtype=np.int64)
  for start in range(0, len(items), item_block):
    scores = queries @ items[start:start + item_block].T
    # The target never outranks itself (a product computed in a different
    # order may differ from target_scores in the last bit).
    here = np.flatnonzero((target >= start) & (target < start + len(scores.T)))
    scores[here, target[here] - start] = -np.inf
    above += (scores > target_scores[:, None]).sum(axis=1)
  # Excluded candidates that scored above the target are taken back out.
  keep = excluded_columns != target[excluded_rows]
  rows, columns = excluded_rows[keep], excluded_columns[keep]
  pair_scores = np.einsum("nd,nd->n", queries[rows], items[columns])
  higher = rows[pair_scores > target_scores[rows]]
  return above - np.bincount(higher, minlength=len(queries))


def blocked_top_k(queries: np.ndarray, items: np.ndarray, k: int,
                  item_block: int = ITEM_BLOCK) -> np.ndarray:
  """[n, k] columns of each query's k highest-scoring items, best first
  (ties: the lower column first), scoring a block of items at a time."""
  queries = np.asarray(queries, dtype=np.float32)
  k = min(k, len(items))
  best_scores = np.zeros((len(queries), 0), dtype=np.float32)
  best_columns = np.zeros((len(queries), 0), dtype=np.int64)
  for start in range(0, len(items), item_block):
    scores = queries @ np.asarray(items[start:start + item_block],
                                  dtype=np.float32).T
    if scores.shape[1] > k:
      # The block's k best, in column order (argpartition's order is not).
      part = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)
      scores = np.take_along_axis(scores, part, axis=1)
    else:
      part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    # Earlier blocks hold lower columns, so the stable sort by score keeps
    # ties in column order.
    scores = np.concatenate([best_scores, scores], axis=1)
    columns = np.concatenate([best_columns, part + start], axis=1)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    best_scores = np.take_along_axis(scores, top, axis=1)
    best_columns = np.take_along_axis(columns, top, axis=1)
  return best_columns
