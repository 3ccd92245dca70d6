"""Executor of RetrievalEvaluator: exact full-corpus ranking.

User embeddings come from the trained SavedModel's `embed_examples`
signature (the serving path), item embeddings from the Trainer's
Format-Embeddings folder. Every item is a candidate except the user's own
train items and, when ranking the test item, the validation item
(PROTOCOL.md). Brute force, not the ScaNN index: metrics measure the model,
the index is checked separately.
"""

import collections
import dataclasses
import glob
import json
import logging
import os
from typing import Any, Callable, Dict, List

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import artifacts
from components import example_io
from components.evaluator import metrics as metrics_lib
from components.item_stats import executor as item_stats_executor
from models import export

K = "k"
SPLIT = "split"
_BATCH = 1024
_log = logging.getLogger("cdnrec.evaluator")


def _records(examples_uri: str, split: str) -> List[bytes]:
  files = sorted(glob.glob(example_io.split_pattern(examples_uri, split)))
  return [r.numpy() for r in tf.data.TFRecordDataset(files,
                                                     compression_type="GZIP")]


def evaluate(examples_uri: str, serving_model_dir: str, item_stats_uri: str,
             k: int, split: str = "test") -> Dict[str, Any]:
  """Metrics of a trained SavedModel; see `evaluate_embeddings`."""
  from serving import model as serving_model  # registers the ScaNN ops
  del serving_model
  item_ids, item_vectors = export.read_item_embeddings(
      export.embeddings_dir(serving_model_dir))
  embed = tf.saved_model.load(serving_model_dir).signatures["embed_examples"]
  return evaluate_embeddings(
      lambda chunk: embed(examples=tf.constant(chunk))["embeddings"].numpy(),
      item_ids, item_vectors, examples_uri,
      item_stats_executor.load_item_rows(item_stats_uri), k, split)


def evaluate_embeddings(embed_examples: Callable[[List[bytes]], np.ndarray],
                        item_ids: np.ndarray, item_vectors: np.ndarray,
                        examples_uri: str, item_rows, k: int,
                        split: str = "test") -> Dict[str, Any]:
  """Full-corpus HR@K / NDCG@K of the `split` items.

  Args:
    embed_examples: serialized examples -> user embeddings [n, d].
    item_ids, item_vectors: every catalog item and its embedding.
    examples_uri: the leave-one-out Examples artifact.
    item_rows: ItemStatsGen's rows (the head flags).
    k: cut-off.
    split: "test" (train and eval items excluded) or "eval" (train items
      excluded), the latter for choosing hyperparameters.

  Returns:
    {"k", "split", "excluded", slice: {"count", "hr", "ndcg"}} for slices
    overall, head, tail.
  """
  if split not in ("test", "eval"):
    raise ValueError(f"split must be 'test' or 'eval', got {split!r}")
  item_ids = np.asarray(item_ids).astype(str)
  column = {item: i for i, item in enumerate(item_ids)}
  head = {r.item_id: r.is_head for r in item_rows}

  exclude_splits = ["train"] + (["eval"] if split == "test" else [])
  seen = collections.defaultdict(list)
  for s in exclude_splits:
    for record in _records(examples_uri, s):
      item, _, user = example_io.read_id_and_index(record)
      seen[user].append(column[item])

  queries = _records(examples_uri, split)
  ranks, is_head = [], []
  for start in range(0, len(queries), _BATCH):
    chunk = queries[start:start + _BATCH]
    scores = embed_examples(chunk) @ item_vectors.T
    targets, excluded = [], []
    for record in chunk:
      item, _, user = example_io.read_id_and_index(record)
      targets.append(column[item])
      excluded.append(seen[user])
      is_head.append(head[item])
    ranks.append(metrics_lib.ranks(scores, np.array(targets), excluded))
  rank = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
  result = {name: dataclasses.asdict(m) for name, m in
            metrics_lib.sliced(rank, np.array(is_head, dtype=bool), k).items()}
  result.update({"k": k, "split": split,
                 "excluded": f"each user's own {' and '.join(exclude_splits)} "
                             "items"})
  return result


def format_metrics(result: Dict[str, Any]) -> str:
  k = result["k"]
  lines = [f"{result['split']} metrics, full-corpus ranking excluding "
           f"{result['excluded']}:"]
  for name in ("overall", "head", "tail"):
    m = result[name]
    lines.append(f"  {name:<8s} n={m['count']:<6d} HR@{k}={100 * m['hr']:6.2f}"
                 f"  NDCG@{k}={100 * m['ndcg']:6.2f}")
  return "\n".join(lines)


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    model = artifact_utils.get_single_instance(input_dict["model"])
    stats = artifact_utils.get_single_instance(input_dict["item_stats"])
    out = artifact_utils.get_single_instance(output_dict["metrics"])
    k = int(exec_properties[K])
    split = exec_properties.get(SPLIT) or "test"
    result = evaluate(examples.uri, os.path.join(model.uri, "Format-Serving"),
                      stats.uri, k, split)
    os.makedirs(out.uri, exist_ok=True)
    with open(os.path.join(out.uri, artifacts.METRICS_FILE), "w") as f:
      json.dump(result, f, indent=2)
    for name in ("overall", "head", "tail"):
      out.set_float_custom_property(f"{name}_hr", result[name]["hr"])
      out.set_float_custom_property(f"{name}_ndcg", result[name]["ndcg"])
    _log.info("%s", format_metrics(result))
