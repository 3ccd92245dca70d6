"""The leave-one-out split of docs/protocol.md, as pure functions."""

import hashlib
from typing import List, Optional, Sequence, Tuple

import numpy as np

# Users with fewer interactions keep them all in train (docs/protocol.md).
MIN_INTERACTIONS_FOR_HOLDOUT = 3
# split_codes' codes.
SPLIT_NAMES = ("train", "eval", "test")


def order_key(timestamp: Optional[float], item_index: int, user_id: str,
              item_id: str, seed: int) -> Tuple:
  """Sort key of one interaction within its user's history.

  By time, ties broken by the item's first appearance in the log; without
  timestamps (BookCrossing) a seeded pseudo-random order per user instead.
  """
  if timestamp is not None:
    return (timestamp, item_index)
  digest = hashlib.sha256(f"{seed}|{user_id}|{item_id}".encode()).digest()
  return (int.from_bytes(digest[:8], "big"), item_index)


def assign_splits(n: int) -> List[str]:
  """Split names for a user's n interactions sorted oldest first."""
  if n < MIN_INTERACTIONS_FOR_HOLDOUT:
    return ["train"] * n
  return ["train"] * (n - 2) + ["eval", "test"]


def _check_finite(timestamps) -> None:
  values = np.asarray(timestamps, dtype=np.float64)
  bad = np.flatnonzero(~np.isfinite(values))
  if len(bad):
    raise ValueError(f"timestamp {values[bad[0]]} at row {bad[0]}: expected "
                     "a finite number (readers set such rows aside)")


def split_user_history(history: Sequence[Tuple], seed: int,
                       has_timestamp: bool) -> List[Tuple[str, Tuple]]:
  """history: (item_id, timestamp, item_index, user_id) tuples of one user.

  Returns (split, interaction) pairs. Raises ValueError on a timestamp
  that is not a finite number: it would sort anywhere.
  """
  if has_timestamp:
    _check_finite([h[1] for h in history])
  ordered = sorted(
      history,
      key=lambda h: order_key(h[1] if has_timestamp else None, h[2], h[3],
                              h[0], seed))
  return list(zip(assign_splits(len(ordered)), ordered))


def split_codes(user_codes: np.ndarray, timestamps: Optional[np.ndarray],
                item_index: np.ndarray, user_ids: Sequence[str],
                item_ids: Sequence[str], seed: int) -> np.ndarray:
  """split_user_history for many users at once, on arrays: the index into
  SPLIT_NAMES of every interaction. user_codes: equal for the rows of one
  user; user_ids / item_ids are only read when timestamps is None."""
  if timestamps is None:
    primary = np.array([int.from_bytes(hashlib.sha256(
        f"{seed}|{u}|{i}".encode()).digest()[:8], "big")
                        for u, i in zip(user_ids, item_ids)], dtype=np.uint64)
  else:
    primary = np.asarray(timestamps)
    _check_finite(primary)
  order = np.lexsort((item_index, primary, user_codes))
  sorted_users = user_codes[order]
  n = len(order)
  boundary = np.flatnonzero(np.diff(sorted_users)) + 1
  starts = np.concatenate([[0], boundary])
  sizes = np.diff(np.concatenate([starts, [n]]))
  size_of_row = np.repeat(sizes, sizes)
  from_end = np.repeat(starts + sizes, sizes) - np.arange(n) - 1
  codes_sorted = np.zeros(n, dtype=np.int8)
  held = size_of_row >= MIN_INTERACTIONS_FOR_HOLDOUT
  codes_sorted[held & (from_end == 1)] = 1
  codes_sorted[held & (from_end == 0)] = 2
  codes = np.empty(n, dtype=np.int8)
  codes[order] = codes_sorted
  return codes
