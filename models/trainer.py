"""The Trainer's entry point: `run_fn(fn_args)` (TFX GenericExecutor).

Reads the leave-one-out train/eval splits, the item catalog, the item
statistics and Ω_r, trains the model `custom_config["model"]` names, and
writes to `fn_args.serving_model_dir` a SavedModel holding only the (main
branch of the) user tower and a ScaNN index over every catalog item; beside
it the brute-force variant (stock TF ops), the item embeddings (for exact
evaluation) and the full model's weights (to warm-start the next run when
the pipeline passes `base_model`).
"""

import json
import logging
import os

from components import uris as uri_lib
from models import config as config_lib
from models import export
from models import inputs
from models import training
from models import warm_start

_log = logging.getLogger("cdnrec.trainer")

# Keys the CdnTrainer executor adds to custom_config.
ITEM_CATALOG_URI = "item_catalog_uri"
ITEM_STATS_URI = "item_stats_uri"
REBALANCED_URI = "rebalanced_examples_uri"
_ARTIFACT_KEYS = (ITEM_CATALOG_URI, ITEM_STATS_URI, REBALANCED_URI)


def run_fn(fn_args) -> None:
  """Trains and exports; see the module docstring."""
  custom = dict(fn_args.custom_config or {})
  uris = {key: custom.pop(key, None) for key in _ARTIFACT_KEYS}
  uris = {key: uri and uri_lib.local_path(uri) for key, uri in uris.items()}
  for key in (ITEM_CATALOG_URI, ITEM_STATS_URI):
    if not uris[key]:
      raise ValueError(f"custom_config lacks {key!r}: run_fn must be called "
                       "by CdnTrainer, which passes the pipeline's artifacts")
  config = config_lib.TrainConfig.from_dict(custom)
  data = training.TrainingInputs(
      train_files=fn_args.train_files, eval_files=fn_args.eval_files,
      item_catalog_uri=uris[ITEM_CATALOG_URI],
      item_stats_uri=uris[ITEM_STATS_URI],
      rebalanced_uri=uris[REBALANCED_URI])
  trained = training.fit(data, config,
                         warm_start_from=_warm_start_dir(fn_args.base_model))

  item_ids, item_vectors = trained.item_embeddings(data)
  k = min(config.top_k, len(item_ids))
  index = export.build_scann_index(
      item_ids, item_vectors, k, num_leaves=config.scann_num_leaves,
      leaves_to_search=config.scann_leaves_to_search,
      reordering=config.scann_reordering)
  recall = _index_recall(index, trained, data, item_ids, item_vectors, k)
  _log.info("ScaNN recall@%d against brute force: %.4f", k, recall)
  serving_dir = uri_lib.local_path(fn_args.serving_model_dir)
  for directory, variant in (
      (serving_dir, index),
      (export.brute_force_dir(serving_dir),
       export.build_brute_force_index(item_ids, item_vectors, k))):
    export.save(export.RetrievalModule(
        trained.built.served_user_model, variant,
        trained.feature_config.user_features, trained.numeric_means, k),
                directory)
  export.write_item_embeddings(export.embeddings_dir(serving_dir), item_ids,
                               item_vectors)
  warm_start.save(trained.built.model, trained.vocabularies,
                  warm_start.checkpoint_dir(serving_dir))

  run_dir = uri_lib.local_path(fn_args.model_run_dir)
  os.makedirs(run_dir, exist_ok=True)
  with open(os.path.join(run_dir, "training.json"), "w") as f:
    json.dump({"config": config.to_dict(),
               f"index_recall_at_{k}": recall,
               "epoch_seconds": trained.epoch_seconds,
               "history": trained.history}, f, indent=2)


def _warm_start_dir(base_model):
  """The base model's weights, when the pipeline passes one (TFX gives its
  Format-Serving path)."""
  if not base_model:
    return None
  directory = warm_start.checkpoint_dir(uri_lib.local_path(base_model))
  if not warm_start.exists(directory):
    _log.warning("base model %s has no %s; training from scratch",
                 base_model, warm_start.CHECKPOINT_FORMAT)
    return None
  return directory


def _index_recall(index, trained, data, item_ids, item_vectors, k: int,
                  max_queries: int = 1000) -> float:
  """ScaNN's recall@k against exact search, over eval users' embeddings."""
  batch = next(iter(inputs.examples_dataset(data.eval_files,
                                            trained.user_spec(), max_queries)))
  queries = trained.built.served_user_model(batch, training=False).numpy()
  return export.index_recall(index, queries, item_ids.astype(str),
                             item_vectors, k)
