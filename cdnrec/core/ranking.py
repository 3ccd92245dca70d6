"""Full-corpus HR@K / NDCG@K of held-out examples under the protocol
(docs/protocol.md): the ranking the Evaluator, the Tuner's trials, the
Trainer's early stopping and the experiment harness share."""

import dataclasses
from typing import Any, Callable, Dict, List

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cdnrec.core import metrics as metrics_lib
from cdnrec.core import queries as queries_lib

# Queries embedded and ranked per step.
_BATCH = 512


class NonFiniteEmbeddings(ValueError):
  """A model whose embeddings hold NaN or inf (it diverged): its scores
  compare false with everything, so every target would rank first."""


def exclude_splits(split: str) -> List[str]:
  """What a `split` query's candidates leave out (docs/protocol.md)."""
  if split not in ("test", "eval"):
    raise ValueError(f"split must be 'test' or 'eval', got {split!r}")
  return ["train"] + (["eval"] if split == "test" else [])


def evaluate_embeddings(embed_examples: Callable[[List[bytes]], np.ndarray],
                        item_ids: np.ndarray, item_vectors: np.ndarray,
                        queries: queries_lib.Queries, item_rows, k: int,
                        split: str = "test") -> Dict[str, Any]:
  """Full-corpus HR@K / NDCG@K of the `split` items.

  Args:
    embed_examples: serialized examples -> user embeddings [n, d].
    item_ids, item_vectors: every catalog item and its embedding.
    queries: the `split` examples to rank and what their users have seen
      (queries.load with exclude_splits(split)).
    item_rows: ItemStatsGen's rows (the head flags).
    k: cut-off.
    split: "test" (train and eval items excluded) or "eval" (train items
      excluded), the latter for choosing hyperparameters.

  Returns:
    {"k", "split", "excluded", "queries", "population", slice: {"count",
    "hr", "ndcg", "hr_se", "ndcg_se"}} for slices overall, head, tail.
  """
  excluded_splits = exclude_splits(split)
  if not np.isfinite(item_vectors).all():
    raise NonFiniteEmbeddings("the item embeddings hold NaN or inf: the "
                              "model diverged (try a lower learning_rate)")
  model_items = pa.array(np.asarray(item_ids).astype(str), pa.string())
  heads = {r.item_id: r.is_head for r in item_rows}
  # An item the model cannot rank (absent from its index) is a miss.
  target = pc.index_in(queries.item_ids, value_set=model_items)
  unknown = np.asarray(target.is_null().to_numpy(zero_copy_only=False))
  target = target.fill_null(0).to_numpy().astype(np.int64)
  excluded = pc.index_in(queries.excluded_items, value_set=model_items)
  known = np.asarray(excluded.is_valid().to_numpy(zero_copy_only=False))
  excluded_rows = queries.excluded_rows[known]
  excluded_columns = excluded.drop_null().to_numpy().astype(np.int64)
  order = np.argsort(excluded_rows, kind="stable")
  excluded_rows, excluded_columns = excluded_rows[order], excluded_columns[order]
  ranks = []
  for start in range(0, len(queries.records), _BATCH):
    chunk = queries.records[start:start + _BATCH]
    lo, hi = np.searchsorted(excluded_rows, [start, start + len(chunk)])
    users = embed_examples(chunk)
    if not np.isfinite(users).all():
      raise NonFiniteEmbeddings("the user embeddings hold NaN or inf: the "
                                "model diverged (try a lower learning_rate)")
    ranks.append(metrics_lib.blocked_ranks(
        users, item_vectors, target[start:start + len(chunk)],
        excluded_rows[lo:hi] - start, excluded_columns[lo:hi]))
  rank = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
  rank = np.where(unknown, len(item_ids), rank)
  is_head = np.array([heads[i] for i in queries.item_ids.to_pylist()],
                     dtype=bool)
  result = {name: dataclasses.asdict(m) for name, m in metrics_lib.sliced(
      rank, is_head, k, queries.sampled_share).items()}
  result.update({"k": k, "split": split,
                 "excluded": f"each user's own {' and '.join(excluded_splits)} "
                             "items",
                 "queries": len(queries.records),
                 "population": queries.population})
  return result
