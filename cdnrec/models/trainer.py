"""The Trainer's entry point: `run_fn(fn_args)` (TFX GenericExecutor).

Reads the leave-one-out train/eval splits, the item catalog, the item
statistics and Ω_r (CdnTrainer passes their URIs as `CdnFnArgs` fields;
`custom_config` holds the TrainConfig's fields and nothing else), trains the
model `custom_config["model"]` names, and
writes to `fn_args.serving_model_dir` a SavedModel holding only the (main
branch of the) user tower and a ScaNN index over every catalog item, with
warm-up records (assets.extra/tf_serving_warmup_requests); beside
it the brute-force variant (stock TF ops), the item embeddings (for exact
evaluation) and the full model's weights (to warm-start the next run when
the pipeline passes `base_model`).
"""

import json
import logging
import os
import time

import attr
from tfx.components.trainer import fn_args_utils

from cdnrec.core import model_layout
from cdnrec.core import uris as uri_lib
from cdnrec.models import config as config_lib
from cdnrec.models import export
from cdnrec.models import inputs
from cdnrec.models import search_space
from cdnrec.models import training
from cdnrec.models import warm_start
from cdnrec.serving import warmup

_log = logging.getLogger("cdnrec.trainer")


@attr.s
class CdnFnArgs(fn_args_utils.FnArgs):
  """TFX's FnArgs plus the artifacts CdnTrainer adds to the Trainer's."""
  item_catalog_uri = attr.ib(type=str, default=None)
  item_stats_uri = attr.ib(type=str, default=None)
  rebalanced_examples_uri = attr.ib(type=str, default=None)
  examples_uri = attr.ib(type=str, default=None)


def run_fn(fn_args) -> None:
  """Trains and exports; see the module docstring."""
  # Fields, not isinstance: TFX may import this module afresh for run_fn,
  # so the executor's CdnFnArgs need not be this module's class object.
  if (not getattr(fn_args, "item_catalog_uri", None) or
      not getattr(fn_args, "item_stats_uri", None)):
    raise ValueError("run_fn needs the item catalog and item statistics: "
                     "run it with CdnTrainer, which passes them (CdnFnArgs)")
  # The Tuner's best settings (or imported ones) override the Trainer's.
  tuned = search_space.chosen_settings(getattr(fn_args, "hyperparameters",
                                               None))
  if tuned:
    _log.info("hyperparameters from the Tuner: %s", tuned)
  config = config_lib.TrainConfig.from_dict({**fn_args.custom_config,
                                             **tuned})
  data = training_inputs(fn_args)
  trained = training.fit(data, config,
                         warm_start_from=_warm_start_dir(fn_args.base_model))

  started = time.perf_counter()
  item_ids, item_vectors = trained.item_embeddings(data)
  k = min(config.serving_k, len(item_ids))
  index = export.build_scann_index(
      item_ids, item_vectors, k, num_leaves=config.scann_num_leaves,
      leaves_to_search=config.scann_leaves_to_search,
      reordering=config.scann_reordering)
  _log.info("embedded %d catalog items and built their ScaNN index in "
            "%.1f s", len(item_ids), time.perf_counter() - started)
  recall = _index_recall(index, trained, data, item_ids, item_vectors, k)
  _log.info("ScaNN recall@%d against brute force: %.4f", k, recall)
  started = time.perf_counter()
  serving_dir = uri_lib.local_path(fn_args.serving_model_dir)
  # TF Serving (and cdnrec serve) replay these before a version serves.
  warmup_logs = warmup.build(
      warmup.first_examples(data.train_files, warmup.BATCH_ROWS),
      trained.feature_config.user_features)
  for directory, variant in (
      (serving_dir, index),
      (model_layout.brute_force_dir(serving_dir),
       export.build_brute_force_index(item_ids, item_vectors, k))):
    export.save(export.RetrievalModule(
        trained.serving_user_model, variant,
        trained.feature_config.user_features, trained.numeric_means, k),
                directory)
    warmup.write(directory, warmup_logs)
  model_layout.write_item_embeddings(model_layout.embeddings_dir(serving_dir), item_ids,
                               item_vectors)
  warm_start.save(trained.built.model, trained.vocabularies,
                  model_layout.checkpoint_dir(serving_dir))
  _log.info("saved both SavedModels with warm-up records, the item "
            "embeddings and the checkpoint "
            "in %.1f s", time.perf_counter() - started)

  run_dir = uri_lib.local_path(fn_args.model_run_dir)
  os.makedirs(run_dir, exist_ok=True)
  with open(os.path.join(run_dir, "training.json"), "w") as f:
    json.dump({"config": config.to_dict(),
               f"index_recall_at_{k}": recall,
               "epoch_seconds": trained.epoch_seconds,
               "kept_epoch": trained.kept_epoch,
               "history": trained.history}, f, indent=2)


def training_inputs(fn_args) -> training.TrainingInputs:
  """What training reads, from CdnFnArgs (the Trainer's and the Tuner's)."""
  return training.TrainingInputs(
      train_files=fn_args.train_files, eval_files=fn_args.eval_files,
      item_catalog_uri=uri_lib.local_path(fn_args.item_catalog_uri),
      item_stats_uri=uri_lib.local_path(fn_args.item_stats_uri),
      rebalanced_uri=(fn_args.rebalanced_examples_uri and
                      uri_lib.local_path(fn_args.rebalanced_examples_uri)),
      examples_uri=(fn_args.examples_uri and
                    uri_lib.local_path(fn_args.examples_uri)))


def _warm_start_dir(base_model):
  """The base model's weights, when the pipeline passes one (TFX gives its
  Format-Serving path)."""
  if not base_model:
    return None
  directory = model_layout.checkpoint_dir(uri_lib.local_path(base_model))
  if not warm_start.exists(directory):
    _log.warning("base model %s has no %s; training from scratch",
                 base_model, model_layout.CHECKPOINT_FORMAT)
    return None
  return directory


def _index_recall(index, trained, data, item_ids, item_vectors, k: int,
                  max_queries: int = 1000) -> float:
  """ScaNN's recall@k against exact search, over eval users' embeddings."""
  batch = next(iter(inputs.examples_dataset(data.eval_files,
                                            trained.user_spec(), max_queries)))
  queries = trained.serving_user_model(batch, training=False).numpy()
  return export.index_recall(index, queries, item_ids.astype(str),
                             item_vectors, k)
