"""One training run of one method on prepared data, evaluated in-process."""

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.core import item_stats
from cdnrec.core import logit_adjustment
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking
from cdnrec.experiment import data as data_lib
from cdnrec.models import config as config_lib
from cdnrec.models import training
from cdnrec.models.modules import item_tower


@dataclasses.dataclass
class RunResult:
  config: Dict[str, Any]
  metrics: Dict[str, Dict[str, Any]]   # split -> evaluator result
  epoch_seconds: List[float]
  gates: Optional[Dict[str, Dict[str, float]]] = None
  # τ (as "%g") -> split -> evaluator result of the post-hoc adjusted scores.
  posthoc: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
  # With early stopping: the epoch (from 1) whose weights were evaluated.
  kept_epoch: Optional[int] = None


def gate_summary(trained: training.TrainedModel, item_ids: np.ndarray,
                 item_rows) -> Optional[Dict[str, Dict[str, float]]]:
  """Mean total gate weight on memorization vs generalization experts, for
  head and tail items (the paper's Fig. 3); None without a gate."""
  item_model = trained.built.item_model
  if not isinstance(item_model, item_tower.GatedItemTower):
    return None
  weights = item_model.gate_weights(
      {F.ITEM_ID: tf.constant(item_ids.astype(str))}).numpy()
  n1 = item_model.num_memorization
  head = {r.item_id: r.is_head for r in item_rows}
  is_head = np.array([head[i] for i in item_ids.astype(str)])
  out = {}
  for name, mask in (("head", is_head), ("tail", ~is_head)):
    out[name] = {"memorization": float(weights[mask, :n1].sum(1).mean()),
                 "generalization": float(weights[mask, n1:].sum(1).mean())}
  return out


def train_and_evaluate(prepared: data_lib.PreparedData,
                       config: config_lib.TrainConfig, k: int,
                       splits: Sequence[str] = ("eval", "test"),
                       posthoc_taus: Sequence[float] = ()) -> RunResult:
  """posthoc_taus: also evaluate the trained model with post-hoc logit
  adjustment at each τ (core/logit_adjustment.py), without retraining."""
  inputs = prepared.training_inputs()
  trained = training.fit(inputs, config, verbose=0)
  # Embedded once: the post-hoc curve re-scores the raw vectors.
  item_ids, raw_vectors = trained.item_embeddings(inputs, adjusted=False)
  item_vectors = trained.adjusted_items(item_ids, raw_vectors)
  rows = item_stats.load_item_rows(prepared.item_stats_uri)
  # Experiments rank every held-out user (max_queries=None): their data
  # sets are small, and settings are compared on exact figures.
  queries = {split: queries_lib.load(
      prepared.examples_uri, split, ranking.exclude_splits(split), None)
             for split in splits}

  def evaluate(embed, vectors):
    return {split: ranking.evaluate_embeddings(
        embed, item_ids, vectors, queries[split], rows, k, split)
            for split in splits}

  metrics = evaluate(trained.embed_examples, item_vectors)
  posthoc = None
  if posthoc_taus:
    # Each τ replaces config.posthoc_tau: the model as trained, re-scored.
    posthoc = {}
    users = lambda chunk: logit_adjustment.adjusted_users(
        trained.embed_examples(chunk, adjusted=False))
    for tau in posthoc_taus:
      posthoc[f"{tau:g}"] = evaluate(users, logit_adjustment.adjusted_items(
          raw_vectors, trained.log_prior(item_ids), tau, config.temperature))
  result = RunResult(config.to_dict(), metrics, trained.epoch_seconds,
                     gate_summary(trained, item_ids, rows), posthoc,
                     trained.kept_epoch)
  tf.keras.backend.clear_session()
  return result
