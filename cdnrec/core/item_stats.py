"""Pure functions behind ItemStatsGen, so the rules read in one place."""

import dataclasses
import hashlib
import json
import math
import os
from typing import Dict, List, Sequence, Tuple

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
  if not 0.0 <= head_fraction <= 1.0:
    raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")
  ranked = sorted(frequencies, key=lambda r: (-r[2], r[1]))
  # Python's round() rounds half to even; the protocol means half up.
  n_head = int(math.floor(head_fraction * len(ranked) + 0.5))
  return [ItemRow(item, index, freq, rank < n_head)
          for rank, (item, index, freq) in enumerate(ranked)]


def imbalance_factor(rows: Sequence[ItemRow]) -> float:
  """max / min train frequency over items seen in train (an unseen item
  would make it infinite)."""
  seen = [r.frequency for r in rows if r.frequency > 0]
  return max(seen) / min(seen) if seen else 0.0


def rebalance_cap(rows: Sequence[ItemRow]) -> int:
  tail = [r.frequency for r in rows if not r.is_head]
  return max(tail) if tail else max((r.frequency for r in rows), default=0)


def sample_key(seed: int, user_id: str, item_id: str) -> bytes:
  """Seeded order in which a head item's interactions are kept for Ω_r;
  independent of how Beam orders elements."""
  return hashlib.sha256(f"{seed}|{user_id}|{item_id}".encode()).digest()


def summarize(rows: Sequence[ItemRow], head_fraction: float,
              rebalanced_size: int, n_users: int = 0, n_interactions: int = 0,
              test_items: Sequence[str] = ()) -> Summary:
  """n_interactions counts all splits; test_items are the test split's."""
  head = [r for r in rows if r.is_head]
  tail = [r for r in rows if not r.is_head]
  heads = head_set(rows)
  test_head = sum(1 for i in test_items if heads.get(i, False))
  return Summary(
      n_users=n_users, n_interactions=n_interactions,
      sparsity=(1.0 - n_interactions / float(n_users * len(rows))
                if n_users and rows else 0.0),
      test_head=test_head, test_tail=len(test_items) - test_head,
      n_items=len(rows),
      n_items_in_train=sum(r.frequency > 0 for r in rows),
      n_train_interactions=sum(r.frequency for r in rows),
      head_fraction=head_fraction,
      n_head=len(head),
      n_tail=len(tail),
      imbalance_factor=imbalance_factor(rows),
      head_interactions=sum(r.frequency for r in head),
      tail_interactions=sum(r.frequency for r in tail),
      rebalance_cap=rebalance_cap(rows),
      rebalanced_size=rebalanced_size)


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
