"""Full-corpus HR@K and NDCG@K as docs/protocol.md defines them."""

import dataclasses
from typing import Dict, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class SliceMetrics:
  count: int
  hr: float     # in [0, 1]
  ndcg: float   # in [0, 1]


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


def slice_metrics(rank: np.ndarray, k: int) -> SliceMetrics:
  if len(rank) == 0:
    return SliceMetrics(0, float("nan"), float("nan"))
  hit = rank < k
  gains = np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)
  return SliceMetrics(int(len(rank)), float(hit.mean()), float(gains.mean()))


def sliced(rank: np.ndarray, is_head: np.ndarray,
           k: int) -> Dict[str, SliceMetrics]:
  """Metrics over all test cases and over head / tail test items."""
  return {"overall": slice_metrics(rank, k),
          "head": slice_metrics(rank[is_head], k),
          "tail": slice_metrics(rank[~is_head], k)}
