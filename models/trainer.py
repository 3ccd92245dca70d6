"""The Trainer's entry point: `run_fn(fn_args)` (TFX GenericExecutor).

Reads the leave-one-out train/eval splits, the item catalog and the item
statistics, trains the retrieval model, and writes to
`fn_args.serving_model_dir` a SavedModel holding only the user tower and a
ScaNN index over every catalog item.
"""

import json
import logging
import os

import tensorflow as tf

from cdnrec import features as F
from components import artifacts
from components import example_io
from components.item_stats import executor as item_stats_executor
from models import config as config_lib
from models import export
from models import inputs
from models import registry
from models.cdn import model as cdn_model

_log = logging.getLogger("cdnrec.trainer")

# Keys the CdnTrainer executor adds to custom_config.
ITEM_CATALOG_URI = "item_catalog_uri"
ITEM_STATS_URI = "item_stats_uri"
REBALANCED_URI = "rebalanced_examples_uri"
_ARTIFACT_KEYS = (ITEM_CATALOG_URI, ITEM_STATS_URI, REBALANCED_URI)


def _numeric_means(vocab: inputs.Vocabularies):
  return {name: mean for name, (mean, _) in vocab.numeric.items()}


def _index_recall(index, user_model, eval_files, spec, item_ids, item_vectors,
                  k: int, max_queries: int = 1000) -> float:
  """ScaNN's recall@k against exact search, over eval users' embeddings."""
  batch = next(iter(inputs.examples_dataset(eval_files, spec, max_queries)))
  queries = user_model(batch, training=False).numpy()
  return export.index_recall(index, queries, item_ids.astype(str),
                             item_vectors, k)


def run_fn(fn_args) -> None:
  """Trains and exports; see the module docstring."""
  custom = dict(fn_args.custom_config or {})
  uris = {key: custom.pop(key, None) for key in _ARTIFACT_KEYS}
  if not uris[ITEM_CATALOG_URI]:
    raise ValueError(f"custom_config lacks {ITEM_CATALOG_URI!r}: run_fn must "
                     "be called by CdnTrainer, which passes the item catalog")
  config = config_lib.TrainConfig.from_dict(custom)
  tf.keras.utils.set_random_seed(config.seed)

  catalog_dir = uris[ITEM_CATALOG_URI]
  with open(os.path.join(catalog_dir, artifacts.FEATURES_FILE)) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  catalog_files = [os.path.join(catalog_dir, artifacts.CATALOG_FILE)]
  vocab = inputs.learn_vocabularies(fn_args.train_files, catalog_files,
                                    feature_config)
  means = _numeric_means(vocab)
  if not uris[ITEM_STATS_URI]:
    raise ValueError(f"custom_config lacks {ITEM_STATS_URI!r}")
  summary = item_stats_executor.load_summary(uris[ITEM_STATS_URI])
  frequencies = {r.item_id: r.frequency for r in
                 item_stats_executor.load_item_rows(uris[ITEM_STATS_URI])}
  _log.info("item stats: %d items (%d head, %d tail), imbalance factor "
            "%.1f, |Ω_r| = %d", summary.n_items, summary.n_head,
            summary.n_tail, summary.imbalance_factor, summary.rebalanced_size)

  steps_per_epoch = max(1, summary.n_train_interactions // config.batch_size)
  built = registry.build(config, feature_config, vocab, frequencies,
                         steps_per_epoch)
  model, user_model, item_model = (built.model, built.served_user_model,
                                   built.item_model)
  model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  _log.info("training %s for %d epochs of %d steps", config.model,
            config.epochs, steps_per_epoch)

  spec = inputs.parse_spec(
      feature_config.user_features + feature_config.item_features, means,
      with_ids=[F.USER_ID, F.ITEM_ID])
  train = inputs.examples_dataset(fn_args.train_files, spec, config.batch_size,
                                  shuffle=True, seed=config.seed, repeat=True)
  if built.needs_rebalanced:
    if not uris[REBALANCED_URI]:
      raise ValueError(f"{config.model} needs {REBALANCED_URI!r} (Ω_r)")
    rebalanced = inputs.examples_dataset(
        [example_io.split_pattern(uris[REBALANCED_URI], "train")], spec,
        config.batch_size, shuffle=True, seed=config.seed + 1, repeat=True)
    train = tf.data.Dataset.zip((train, rebalanced)).map(
        lambda m, r: {cdn_model.MAIN: m, cdn_model.REGULARIZER: r})
  evaluation = inputs.examples_dataset(fn_args.eval_files, spec,
                                       config.batch_size)
  history = model.fit(train, validation_data=evaluation, epochs=config.epochs,
                      steps_per_epoch=steps_per_epoch, verbose=2)

  item_ids, item_vectors = export.item_embeddings(item_model, catalog_files,
                                                  feature_config, means)
  k = min(config.top_k, len(item_ids))
  index = export.build_scann_index(
      item_ids, item_vectors, k, num_leaves=config.scann_num_leaves,
      leaves_to_search=config.scann_leaves_to_search,
      reordering=config.scann_reordering)
  recall = _index_recall(index, user_model, fn_args.eval_files, spec,
                         item_ids, item_vectors, k)
  _log.info("ScaNN recall@%d against brute force: %.4f", k, recall)
  module = export.RetrievalModule(user_model, index,
                                  feature_config.user_features, means, k)
  export.save(module, fn_args.serving_model_dir)
  export.write_item_embeddings(
      export.embeddings_dir(fn_args.serving_model_dir), item_ids, item_vectors)

  os.makedirs(fn_args.model_run_dir, exist_ok=True)
  with open(os.path.join(fn_args.model_run_dir, "training.json"), "w") as f:
    json.dump({"config": config.to_dict(),
               f"index_recall_at_{k}": recall,
               "history": {name: [float(v) for v in values]
                           for name, values in history.history.items()}},
              f, indent=2)
