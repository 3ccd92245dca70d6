"""Executor of RetrievalEvaluator: exact full-corpus ranking, the index's
recall, and the blessing decision (core/blessing.py).

Users are ranked in chunks against blocks of items (core/ranking.py), so
memory does not grow with the catalog; with more held-out users than
`max_queries`, a seeded sample of them is ranked (core/queries.py).

User embeddings come from the trained SavedModel's `embed_examples`
signature (the serving path), item embeddings from the Trainer's
Format-Embeddings folder. Every item is a candidate except the user's own
train items and, when ranking the test item, the validation item
(docs/protocol.md). Brute force, not the ScaNN index: metrics measure the model,
the index is checked separately.
"""

import dataclasses
import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from cdnrec.core import artifacts
from cdnrec.core import blessing as blessing_lib
from cdnrec.core import item_stats
from cdnrec.core import metrics as metrics_lib
from cdnrec.core import model_layout
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking
from cdnrec.core import uris

K = "k"
SPLIT = "split"
THRESHOLDS = "thresholds"
MAX_QUERIES = "max_queries"
SEED = "seed"
BLESSING_FILE = "blessing.json"
# Queries embedded and ranked per step.
_BATCH = 512
_log = logging.getLogger("cdnrec.evaluator")


@dataclasses.dataclass(frozen=True)
class ServedModel:
  """A trained SavedModel and its items' embeddings, loaded once for both
  the metrics and the index check."""
  signatures: Any
  item_ids: np.ndarray
  item_vectors: np.ndarray

  @classmethod
  def load(cls, serving_model_dir: str) -> "ServedModel":
    from cdnrec.serving import model as serving_model  # registers the ScaNN ops
    del serving_model
    item_ids, item_vectors = model_layout.read_item_embeddings(
        model_layout.embeddings_dir(serving_model_dir))
    return cls(tf.saved_model.load(serving_model_dir).signatures, item_ids,
               item_vectors)

  def embed(self, chunk: List[bytes]) -> np.ndarray:
    return self.signatures["embed_examples"](
        examples=tf.constant(chunk))["embeddings"].numpy()


def evaluate(served: ServedModel, item_stats_uri: str, k: int,
             queries: queries_lib.Queries, split: str = "test"
             ) -> Dict[str, Any]:
  """Metrics of a trained SavedModel; see `evaluate_embeddings`."""
  return ranking.evaluate_embeddings(
      served.embed, served.item_ids, served.item_vectors, queries,
      item_stats.load_item_rows(item_stats_uri), k, split)


def index_recall(examples_uri: str, served: ServedModel, split: str = "test",
                 max_queries: int = 2000) -> Tuple[float, int]:
  """(recall, K): the share of the exact top-K items (brute force over every
  item) that the served index returns for held-out users (the first
  max_queries `split` examples); K is the index's own (the Trainer's
  serving_k)."""
  records = queries_lib.first(examples_uri, split, max_queries)
  hits = total = 0
  found = np.zeros((0, 0))
  for start in range(0, len(records), _BATCH):
    chunk = records[start:start + _BATCH]
    found = served.signatures["serving_default"](
        examples=tf.constant(chunk))["item_ids"].numpy().astype(str)
    exact = served.item_ids[metrics_lib.blocked_top_k(
        served.embed(chunk), served.item_vectors, found.shape[1])]
    hits += sum(len(set(e) & set(f)) for e, f in zip(exact, found))
    total += exact.size
  if not total:
    return 1.0, 0
  return hits / total, found.shape[1]


def format_metrics(result: Dict[str, Any]) -> str:
  k = result["k"]
  sampled = result.get("queries", 0) < result.get("population", 0)
  scope = (f"a seeded sample of {result['queries']} of the "
           f"{result['population']} held-out users" if sampled
           else "every held-out user")
  lines = [f"{result['split']} metrics, full-corpus ranking excluding "
           f"{result['excluded']}, over {scope}:"]
  for name in ("overall", "head", "tail"):
    m = result[name]
    error = (f"  (standard errors {100 * m['hr_se']:.2f}, "
             f"{100 * m['ndcg_se']:.2f})" if sampled else "")
    lines.append(f"  {name:<8s} n={m['count']:<6d} HR@{k}={100 * m['hr']:6.2f}"
                 f"  NDCG@{k}={100 * m['ndcg']:6.2f}{error}")
  return "\n".join(lines)


class Executor(base_executor.BaseExecutor):
  """Measures the model (and the reference model on the same data), checks
  its index, and writes metrics and the blessing decision."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    model = artifact_utils.get_single_instance(input_dict["model"])
    stats = artifact_utils.get_single_instance(input_dict["item_stats"])
    out = artifact_utils.get_single_instance(output_dict["metrics"])
    blessing = artifact_utils.get_single_instance(output_dict["blessing"])
    k = int(exec_properties[K])
    split = exec_properties.get(SPLIT) or "test"
    thresholds = blessing_lib.Thresholds(
        **json.loads(exec_properties.get(THRESHOLDS) or "{}"))
    examples_path = uris.local_path(examples.uri)
    stats_path = uris.local_path(stats.uri)
    max_queries = exec_properties.get(MAX_QUERIES)
    served = ServedModel.load(
        os.path.join(uris.local_path(model.uri), model_layout.SCANN_FORMAT))
    queries = queries_lib.load(
        examples_path, split, ranking.exclude_splits(split),
        int(max_queries) if max_queries else None,
        seed=int(exec_properties.get(SEED) or 0))
    result = evaluate(served, stats_path, k, queries, split)
    recall, index_k = index_recall(examples_path, served, split)
    _log.info("%s", format_metrics(result))
    _log.info("index recall@%d against exact search, held-out %s users: "
              "%.4f", index_k, split, recall)

    reference = _reference(input_dict)
    reference_metrics = None
    if reference is not None:
      reference_metrics = evaluate(
          ServedModel.load(os.path.join(uris.local_path(reference[1].uri),
                                        model_layout.SCANN_FORMAT)),
          stats_path, k, queries, split)
      _log.info("reference (%s):\n%s", reference[0],
                format_metrics(reference_metrics))
    decision = blessing_lib.decide(
        result, recall, thresholds, reference_metrics,
        reference[0] if reference else None)
    _log.info("%s", decision.describe())

    out_path = uris.local_path(out.uri)
    os.makedirs(out_path, exist_ok=True)
    with open(os.path.join(out_path, artifacts.METRICS_FILE), "w") as f:
      json.dump({**result, "index_recall": recall,
                 "reference": reference_metrics}, f, indent=2)
    for name in ("overall", "head", "tail"):
      out.set_float_custom_property(f"{name}_hr", result[name]["hr"])
      out.set_float_custom_property(f"{name}_ndcg", result[name]["ndcg"])
    out.set_float_custom_property("index_recall", recall)
    _write_blessing(blessing, decision, model, thresholds)


def _reference(input_dict) -> Optional[Tuple[str, types.Artifact]]:
  """The model last blessed, else the baseline trained in this run."""
  for key, label in (("last_blessed_model", "the model last blessed"),
                     ("baseline_model", "the baseline trained in this run")):
    found = input_dict.get(key) or []
    if found:
      return f"{label} ({found[0].uri})", found[0]
  return None


def _write_blessing(blessing: types.Artifact,
                    decision: blessing_lib.Decision, model: types.Artifact,
                    thresholds: blessing_lib.Thresholds) -> None:
  path = uris.local_path(blessing.uri)
  os.makedirs(path, exist_ok=True)
  # BLESSED / NOT_BLESSED marker files and the custom properties follow
  # TFX's Evaluator, so its Pusher and LatestBlessedModelStrategy work.
  marker = "BLESSED" if decision.blessed else "NOT_BLESSED"
  with open(os.path.join(path, marker), "w"):
    pass
  with open(os.path.join(path, BLESSING_FILE), "w") as f:
    json.dump({**decision.to_dict(),
               "thresholds": dataclasses.asdict(thresholds)}, f, indent=2)
  blessing.set_int_custom_property("blessed", int(decision.blessed))
  blessing.set_string_custom_property("current_model", model.uri)
  blessing.set_int_custom_property("current_model_id", model.id)
  blessing.set_string_custom_property("reasons", "; ".join(decision.reasons))
