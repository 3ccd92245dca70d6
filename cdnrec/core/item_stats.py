"""Pure functions behind ItemStatsGen, so the rules read in one place."""

import dataclasses
import hashlib
import json
import math
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

# Head = the top 20% of items by train frequency (docs/protocol.md); readers may
# name another share for their dataset (readers.head_fraction).
HEAD_FRACTION = 0.2

# Files of an ItemStats artifact (core/artifacts.py).
ITEM_STATS_FILE = "item_stats.tsv"
SUMMARY_FILE = "summary.json"


@dataclasses.dataclass(frozen=True)
class ItemRow:
  item_id: str
  item_index: int
  frequency: int
  is_head: bool


@dataclasses.dataclass(frozen=True)
class Summary:
  """What the paper's Table 7 and the re-balancing need."""
  n_items: int
  n_items_in_train: int
  n_train_interactions: int
  head_fraction: float
  n_head: int
  n_tail: int
  imbalance_factor: float
  head_interactions: int
  tail_interactions: int
  # Ω_r keeps at most this many interactions per head item: the frequency of
  # the most popular tail item.
  rebalance_cap: int
  rebalanced_size: int
  # The rest of the paper's Table 7 rows.
  n_users: int = 0
  n_interactions: int = 0
  sparsity: float = 0.0
  test_head: int = 0
  test_tail: int = 0


def head_tail(frequencies: Sequence[Tuple[str, int, int]],
              head_fraction: float) -> List[ItemRow]:
  """Head = the round(fraction * n_items) most frequent items of the whole
  item set, ties broken by item index (docs/protocol.md).

  Args:
    frequencies: (item_id, item_index, train frequency) for every item,
      including items with frequency 0.
    head_fraction: in [0, 1].
  """
  ranked = sorted(frequencies, key=lambda r: (-r[2], r[1]))
  heads = head_mask(np.array([r[2] for r in ranked], dtype=np.int64),
                    np.array([r[1] for r in ranked], dtype=np.int64),
                    head_fraction)
  return [ItemRow(item, index, freq, bool(head))
          for (item, index, freq), head in zip(ranked, heads)]


def head_mask(frequency: np.ndarray, item_index: np.ndarray,
              head_fraction: float) -> np.ndarray:
  """head_tail on arrays: True for the head items (same rule)."""
  if not 0.0 <= head_fraction <= 1.0:
    raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")
  # Python's round() rounds half to even; the protocol means half up.
  n_head = int(math.floor(head_fraction * len(frequency) + 0.5))
  ranked = np.lexsort((item_index, -np.asarray(frequency, dtype=np.int64)))
  mask = np.zeros(len(frequency), dtype=bool)
  mask[ranked[:n_head]] = True
  return mask


def imbalance_factor(rows: Sequence[ItemRow]) -> float:
  """max / min train frequency over items seen in train (an unseen item
  would make it infinite)."""
  seen = [r.frequency for r in rows if r.frequency > 0]
  return max(seen) / min(seen) if seen else 0.0


def rebalance_cap(rows: Sequence[ItemRow]) -> int:
  """Ω_r's cap: the frequency of the most popular tail item (of the most
  popular item when every item is head)."""
  return cap_of(np.array([r.frequency for r in rows], dtype=np.int64),
                np.array([r.is_head for r in rows], dtype=bool))


def sample_keys(seed: int, user_ids: Sequence[bytes],
                item_ids: Sequence[bytes]) -> np.ndarray:
  """The seeded order in which a head item's interactions are kept for Ω_r,
  independent of how Beam orders elements: SHA-256 of b"seed|user|item"
  (ids as their UTF-8 bytes), as a sortable (n, 4) uint64 array whose rows
  compare as the digests do."""
  prefix = b"%d|" % seed
  sha256 = hashlib.sha256
  digests = b"".join(sha256(b"".join((prefix, u, b"|", i))).digest()
                     for u, i in zip(user_ids, item_ids))
  return np.frombuffer(digests, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def summarize(rows: Sequence[ItemRow], head_fraction: float,
              rebalanced_size: int, n_users: int = 0, n_interactions: int = 0,
              test_items: Sequence[str] = ()) -> Summary:
  """n_interactions counts all splits; test_items are the test split's."""
  heads = head_set(rows)
  return summarize_arrays(
      np.array([r.frequency for r in rows], dtype=np.int64),
      np.array([r.is_head for r in rows], dtype=bool), head_fraction,
      rebalanced_size, n_users, n_interactions,
      np.array([heads.get(i, False) for i in test_items], dtype=bool))


def summarize_arrays(frequency: np.ndarray, is_head: np.ndarray,
                     head_fraction: float, rebalanced_size: int,
                     n_users: int = 0, n_interactions: int = 0,
                     test_is_head: np.ndarray = np.zeros(0, dtype=bool)
                     ) -> Summary:
  """summarize on per-item arrays; test_is_head: one entry per test
  interaction."""
  seen = frequency[frequency > 0]
  tail = frequency[~is_head]
  test_head = int(test_is_head.sum())
  return Summary(
      n_users=n_users, n_interactions=n_interactions,
      sparsity=(1.0 - n_interactions / float(n_users * len(frequency))
                if n_users and len(frequency) else 0.0),
      test_head=test_head, test_tail=len(test_is_head) - test_head,
      n_items=len(frequency),
      n_items_in_train=int((frequency > 0).sum()),
      n_train_interactions=int(frequency.sum()),
      head_fraction=head_fraction,
      n_head=int(is_head.sum()),
      n_tail=int((~is_head).sum()),
      imbalance_factor=float(seen.max() / seen.min()) if len(seen) else 0.0,
      head_interactions=int(frequency[is_head].sum()),
      tail_interactions=int(tail.sum()),
      rebalance_cap=cap_of(frequency, is_head),
      rebalanced_size=rebalanced_size)


def cap_of(frequency: np.ndarray, is_head: np.ndarray) -> int:
  """rebalance_cap on arrays."""
  tail = frequency[~is_head]
  return int(tail.max() if len(tail) else frequency.max(initial=0))


def head_set(rows: Sequence[ItemRow]) -> Dict[str, bool]:
  return {r.item_id: r.is_head for r in rows}


def load_summary(item_stats_uri: str) -> Summary:
  with open(os.path.join(item_stats_uri, SUMMARY_FILE)) as f:
    return Summary(**json.load(f))


def load_item_rows(item_stats_uri: str) -> List[ItemRow]:
  """Rows of item_stats.tsv, in item-index order."""
  with open(os.path.join(item_stats_uri, ITEM_STATS_FILE)) as f:
    next(f)
    return [ItemRow(i, int(x), int(c), h == "1")
            for i, x, c, h in (line.rstrip("\n").split("\t") for line in f)]
