"""The leave-one-out split of docs/protocol.md, as pure functions."""

import hashlib
from typing import List, Optional, Sequence, Tuple

# Users with fewer interactions keep them all in train (docs/protocol.md).
MIN_INTERACTIONS_FOR_HOLDOUT = 3


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


def split_user_history(history: Sequence[Tuple], seed: int,
                       has_timestamp: bool) -> List[Tuple[str, Tuple]]:
  """history: (item_id, timestamp, item_index, user_id) tuples of one user.

  Returns (split, interaction) pairs.
  """
  ordered = sorted(
      history,
      key=lambda h: order_key(h[1] if has_timestamp else None, h[2], h[3],
                              h[0], seed))
  return list(zip(assign_splits(len(ordered)), ordered))
