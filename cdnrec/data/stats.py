"""Dataset statistics, the rows of the paper's Table 7, computed with the
pipeline's own rules (leave-one-out split, head/tail on train frequency)."""

import collections
import dataclasses
from typing import Dict

from cdnrec.core import item_stats as item_stats
from cdnrec.core import split as loo
from cdnrec.data.readers import base


@dataclasses.dataclass(frozen=True)
class DatasetStats:
  users: int
  items: int
  interactions: int
  sparsity: float
  imbalance_factor: float
  imbalance_factor_train: float
  head_items: int
  tail_items: int
  test_head: int
  test_tail: int

  def table(self) -> str:
    rows = [("# users", f"{self.users:,}"), ("# items", f"{self.items:,}"),
            ("# interactions", f"{self.interactions:,}"),
            ("sparsity", f"{100 * self.sparsity:.4f}%"),
            ("imbalance factor (all interactions)",
             f"{self.imbalance_factor:,.0f}"),
            ("imbalance factor (train split)",
             f"{self.imbalance_factor_train:,.0f}"),
            ("head / tail items", f"{self.head_items:,} / {self.tail_items:,}"),
            ("test cases on head / tail items",
             f"{self.test_head:,} / {self.test_tail:,}")]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def compute(tables: base.Tables, head_fraction: float,
            seed: int = 0) -> DatasetStats:
  """Items are the catalog (the item file, else the items rated)."""
  first_seen: Dict[str, int] = {}
  by_user = collections.defaultdict(list)
  counts = collections.Counter()
  for user, item, ts, _, _ in tables.interactions:
    first_seen.setdefault(item, len(first_seen))
    counts[item] += 1
  catalog = list(first_seen) + [i for i in tables.items if i not in first_seen]
  index = {item: i for i, item in enumerate(catalog)}
  has_ts = any(r[2] is not None for r in tables.interactions)
  for user, item, ts, _, _ in tables.interactions:
    by_user[user].append((item, ts, index[item], user))
  train = collections.Counter()
  test_items = []
  for history in by_user.values():
    for split, (item, *_rest) in loo.split_user_history(history, seed,
                                                         has_ts):
      if split == "train":
        train[item] += 1
      elif split == "test":
        test_items.append(item)
  rows = item_stats.head_tail([(i, index[i], train[i]) for i in catalog],
                              head_fraction)
  head = {r.item_id for r in rows if r.is_head}
  n_users, n_items = len(by_user), len(catalog)
  n = len(tables.interactions)
  return DatasetStats(
      users=n_users, items=n_items, interactions=n,
      sparsity=1.0 - n / float(n_users * n_items),
      imbalance_factor=max(counts.values()) / min(counts.values()),
      imbalance_factor_train=item_stats.imbalance_factor(rows),
      head_items=len(head), tail_items=n_items - len(head),
      test_head=sum(i in head for i in test_items),
      test_tail=sum(i not in head for i in test_items))
