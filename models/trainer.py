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
from components.item_stats import executor as item_stats_executor
from models import config as config_lib
from models import export
from models import inputs
from models import towers
from models import two_tower

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
  if uris[ITEM_STATS_URI]:
    summary = item_stats_executor.load_summary(uris[ITEM_STATS_URI])
    _log.info("item stats: %d items (%d head, %d tail), imbalance factor "
              "%.1f, |Ω_r| = %d", summary.n_items, summary.n_head,
              summary.n_tail, summary.imbalance_factor,
              summary.rebalanced_size)

  user_model = towers.user_tower(config, feature_config, vocab)
  item_model = towers.item_tower(config, feature_config, vocab)
  model = two_tower.TwoTowerModel(user_model, item_model, config.temperature)
  model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))

  spec = inputs.parse_spec(
      feature_config.user_features + feature_config.item_features, means,
      with_ids=[F.USER_ID, F.ITEM_ID])
  train = inputs.examples_dataset(fn_args.train_files, spec, config.batch_size,
                                  shuffle=True, seed=config.seed)
  evaluation = inputs.examples_dataset(fn_args.eval_files, spec,
                                       config.batch_size)
  history = model.fit(train, validation_data=evaluation, epochs=config.epochs,
                      verbose=2)

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
               "history": {k: [float(v) for v in vs]
                           for k, vs in history.history.items()}}, f, indent=2)
