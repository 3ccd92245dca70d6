"""HR@K / NDCG@K against examples computed by hand."""

import math

import numpy as np

from cdnrec.core import metrics


def test_ranks_count_strictly_higher_remaining_candidates():
  scores = np.array([
      # target column 2 (0.5): items 0 (0.9) and 3 (0.7) beat it, but item 0
      # is excluded, so rank 1. Item 1 ties (0.5) and does not count.
      [0.9, 0.5, 0.5, 0.7],
      # target column 0 is the best: rank 0 even with nothing excluded.
      [0.8, 0.1, 0.2, 0.3],
      # target column 1: 3 items beat it, none excluded.
      [0.4, 0.0, 0.3, 0.2],
  ])
  rank = metrics.ranks(scores, np.array([2, 0, 1]), [[0], [], []])
  assert rank.tolist() == [1, 0, 3]


def test_hr_and_ndcg_by_hand():
  rank = np.array([1, 0, 3])
  m = metrics.slice_metrics(rank, k=2)
  # Hits at K=2: ranks 1 and 0; rank 3 misses.
  assert m.count == 3
  assert m.hr == 2 / 3
  # NDCG: 1/log2(1+2) + 1/log2(0+2) + 0, over 3 cases.
  assert math.isclose(m.ndcg, (1 / math.log2(3) + 1.0) / 3)


def test_slices_split_by_head_flag():
  rank = np.array([0, 5, 1, 9])
  out = metrics.sliced(rank, np.array([True, True, False, False]), k=2)
  assert (out["head"].count, out["head"].hr) == (2, 0.5)
  assert (out["tail"].count, out["tail"].hr) == (2, 0.5)
  assert out["overall"].hr == 0.5
  assert math.isclose(out["tail"].ndcg, (1 / math.log2(3)) / 2)
