"""Training a retrieval model from the pipeline's artifacts, outside of any
TFX plumbing: used by the Trainer's run_fn and by `cdnrec experiment`."""

import dataclasses
import logging
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from cdnrec.core import artifacts
from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.core import item_stats
from cdnrec.core import logit_adjustment
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking
from cdnrec.models import cdn as cdn_model
from cdnrec.models import config as config_lib
from cdnrec.models import distribute
from cdnrec.models import export
from cdnrec.models import inputs
from cdnrec.models import optimizer as optimizer_lib
from cdnrec.models import registry
from cdnrec.models import warm_start
from cdnrec.models.modules import sampling

_log = logging.getLogger("cdnrec.trainer")


@dataclasses.dataclass(frozen=True)
class TrainingInputs:
  """Where the data of one training run lives."""
  train_files: Sequence[str]
  eval_files: Sequence[str]
  item_catalog_uri: str
  item_stats_uri: str
  rebalanced_uri: Optional[str] = None
  # The leave-one-out Examples (every split): what ranking the validation
  # split needs (each user's train items are not candidates).
  examples_uri: Optional[str] = None

  @property
  def catalog_files(self) -> List[str]:
    return [os.path.join(self.item_catalog_uri, artifacts.CATALOG_FILE)]


@dataclasses.dataclass
class TrainedModel:
  built: registry.BuiltModel
  config: config_lib.TrainConfig
  feature_config: F.FeatureConfig
  numeric_means: Dict[str, float]
  history: Dict[str, List[float]]
  epoch_seconds: List[float]
  vocabularies: inputs.Vocabularies
  # With early stopping: the epoch (from 1) whose weights were kept.
  kept_epoch: Optional[int] = None
  # Train (Ω_m) frequency of every item: the prior of posthoc_tau.
  item_frequencies: Dict[str, int] = dataclasses.field(default_factory=dict)

  def user_spec(self):
    return inputs.parse_spec(self.feature_config.user_features,
                             self.numeric_means, with_ids=[F.USER_ID])

  @property
  def serving_user_model(self) -> tf.keras.Model:
    """The user tower that is exported: with config.posthoc_tau, one more
    coordinate (1) that scores the adjusted items' last one."""
    if not self.config.posthoc_tau:
      return self.built.served_user_model
    return export.AdjustedUserModel(self.built.served_user_model)

  def item_embeddings(self, data: TrainingInputs, adjusted: bool = True):
    """(ids, vectors) of every catalog item; with config.posthoc_tau and
    `adjusted`, the vectors carry the adjustment's coordinate."""
    ids, vectors = export.item_embeddings(
        self.built.item_model, data.catalog_files, self.feature_config,
        self.numeric_means)
    return ids, (self.adjusted_items(ids, vectors) if adjusted else vectors)

  def adjusted_items(self, item_ids: np.ndarray, vectors: np.ndarray,
                     tau: Optional[float] = None) -> np.ndarray:
    """Raw item vectors with post-hoc adjustment at τ (default
    config.posthoc_tau; 0 leaves them as they are)."""
    tau = self.config.posthoc_tau if tau is None else tau
    if not tau:
      return vectors
    return logit_adjustment.adjusted_items(
        vectors, self.log_prior(item_ids), tau, self.config.temperature)

  def log_prior(self, item_ids: np.ndarray) -> np.ndarray:
    """log π of the given items from their train frequencies."""
    return logit_adjustment.log_prior(np.array(
        [self.item_frequencies.get(i, 0) for i in item_ids.astype(str)]))

  def embed_examples(self, serialized: Sequence[bytes],
                     adjusted: bool = True) -> np.ndarray:
    features = tf.io.parse_example(tf.constant(list(serialized)),
                                   self.user_spec())
    users = self.built.served_user_model(features, training=False).numpy()
    if adjusted and self.config.posthoc_tau:
      users = logit_adjustment.adjusted_users(users)
    return users


class _EpochTimer(tf.keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds: List[float] = []
    self._start = 0.0

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)


class _BestWeights(tf.keras.callbacks.Callback):
  """Early stopping on a validation score that keeps the best epoch's
  weights whether or not it stopped early (Keras' EarlyStopping restores
  them only when it stops). One-stage models only (TrainConfig checks).

  watch(logs) -> the epoch's value (NaN: never the best).
  """

  def __init__(self, patience: int, watch: Callable[[Dict], float],
               name: str, higher_is_better: bool):
    super().__init__()
    self.patience = patience
    self.name = name
    self.values: List[float] = []
    self.best = -float("inf") if higher_is_better else float("inf")
    self.best_epoch: Optional[int] = None
    self.stopped_epoch: Optional[int] = None
    self._watch = watch
    self._sign = 1.0 if higher_is_better else -1.0
    self._weights = None
    self._wait = 0

  def on_epoch_end(self, epoch, logs=None):
    value = float(self._watch(logs or {}))
    self.values.append(value)
    _log.info("epoch %d: %s %.4f", epoch + 1, self.name, value)
    if self._sign * value > self._sign * self.best:
      self.best, self.best_epoch, self._wait = value, epoch, 0
      self._weights = self.model.get_weights()
      return
    self._wait += 1
    if self._wait >= self.patience:
      self.stopped_epoch = epoch
      self.model.stop_training = True

  def restore(self, model: tf.keras.Model) -> None:
    if self._weights is not None:
      model.set_weights(self._weights)


def _validation_loss(logs: Dict) -> float:
  if "val_loss" not in logs:
    raise ValueError(f"early stopping watches 'val_loss', which the model "
                     f"does not report ({sorted(logs)})")
  return float(logs["val_loss"])


def _validation_ndcg(trained: TrainedModel, data: TrainingInputs
                     ) -> Callable[[Dict], float]:
  """Overall NDCG@serving_k on the validation split, ranked as the
  Evaluator ranks (the served user tower, every catalog item)."""
  config = trained.config
  queries = queries_lib.load(data.examples_uri, "eval",
                             ranking.exclude_splits("eval"),
                             config.early_stopping_queries)
  if not queries.records:
    raise ValueError("early_stopping_metric 'ndcg': the validation split "
                     "has no examples to rank")
  item_rows = item_stats.load_item_rows(data.item_stats_uri)

  embed_catalog = export.CatalogEmbedder(
      trained.built.item_model, data.catalog_files, trained.feature_config,
      trained.numeric_means)

  def ndcg(logs: Dict) -> float:
    del logs
    item_ids, raw_vectors = embed_catalog()
    item_vectors = trained.adjusted_items(item_ids, raw_vectors)
    try:
      return ranking.evaluate_embeddings(
          trained.embed_examples, item_ids, item_vectors, queries, item_rows,
          config.serving_k, "eval")["overall"]["ndcg"]
    except ranking.NonFiniteEmbeddings as e:
      # Never the best epoch; if no epoch is finite, fit fails saying so.
      _log.warning("validation NDCG not scored: %s", e)
      return float("nan")

  return ndcg


def fit(data: TrainingInputs, config: config_lib.TrainConfig,
        verbose: int = 2, warm_start_from: Optional[str] = None
        ) -> TrainedModel:
  """Builds the model config.model names and trains it.

  warm_start_from: a Format-Checkpoint folder of an earlier run (see
  warm_start.py); training starts from its weights.
  """
  if (config.early_stopping_patience and
      config.early_stopping_metric == "ndcg" and not data.examples_uri):
    raise ValueError("early_stopping_metric 'ndcg' ranks the validation "
                     "split against each user's train items: the training "
                     "inputs need examples_uri")
  tf.keras.utils.set_random_seed(config.seed)
  started = time.perf_counter()
  with open(os.path.join(data.item_catalog_uri, artifacts.FEATURES_FILE)) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  vocab = inputs.learn_vocabularies(data.train_files, data.catalog_files,
                                    feature_config)
  means = {name: mean for name, (mean, _) in vocab.numeric.items()}
  summary = item_stats.load_summary(data.item_stats_uri)
  item_rows = item_stats.load_item_rows(data.item_stats_uri)
  frequencies = {r.item_id: r.frequency for r in item_rows}
  _log.info("item stats: %d items (%d head, %d tail), imbalance factor "
            "%.1f, |Ω_r| = %d", summary.n_items, summary.n_head,
            summary.n_tail, summary.imbalance_factor, summary.rebalanced_size)

  steps_per_epoch = max(1, summary.n_train_interactions // config.batch_size)
  # Ω_r keeps every example of an item up to the cap, so its frequencies
  # follow from Ω_m's (tests/test_item_stats.py checks the two agree).
  rebalanced_frequencies = None
  if data.rebalanced_uri and registry.reads_rebalanced(config):
    rebalanced_frequencies = sampling.rebalanced_frequencies(
        frequencies, summary.rebalance_cap)
  head_items = [r.item_id for r in item_rows if r.is_head]
  strategy = distribute.strategy(config.distribution)
  with strategy.scope():
    built = registry.build(config, feature_config, vocab, frequencies,
                           steps_per_epoch, rebalanced_frequencies, head_items,
                           rebalance_cap=summary.rebalance_cap)
    built.model.compile(optimizer=optimizer_lib.make(
        config.learning_rate, config.sparse_updates,
        max((len(vocab.tokens.get(name, ())) for name in (F.USER_ID, F.ITEM_ID)),
            default=0)))
  _log.info("vocabularies and model built in %.1f s; training %s for %d "
            "epochs of %d steps", time.perf_counter() - started,
            config.model, config.epochs, steps_per_epoch)

  spec = inputs.parse_spec(
      feature_config.user_features + feature_config.item_features, means,
      with_ids=[F.USER_ID, F.ITEM_ID])
  train = inputs.examples_dataset(
      data.train_files, spec, config.batch_size, shuffle=True,
      seed=config.seed, repeat=True,
      cache=config.cache_examples and inputs.fits_in_memory(data.train_files))
  rebalanced = None
  if built.needs_rebalanced:
    if not data.rebalanced_uri:
      raise ValueError(f"{config.model} needs the re-balanced examples Ω_r")
    rebalanced_files = [example_io.split_pattern(data.rebalanced_uri,
                                                 "train")]
    rebalanced = inputs.examples_dataset(
        rebalanced_files, spec, config.batch_size, shuffle=True,
        seed=config.seed + 1, repeat=True,
        cache=config.cache_examples and inputs.fits_in_memory(
            rebalanced_files))
  evaluation = inputs.examples_dataset(data.eval_files, spec,
                                       config.batch_size)
  timer = _EpochTimer()
  if built.two_stage:
    # NDP: half the epochs on Ω_m, the rest on Ω_r, whose candidates are
    # sampled by their Ω_r frequency.
    first = config.epochs // 2
    stages = [(train, first, None),
              (rebalanced, config.epochs - first,
               sampling.ItemProbability(
                   rebalanced_frequencies, config.sampling_correction_strength)
               if config.sampling_correction else None)]
  elif built.needs_rebalanced:
    stages = [(tf.data.Dataset.zip((train, rebalanced)).map(
        lambda m, r: {cdn_model.MAIN: m, cdn_model.REGULARIZER: r}),
               config.epochs, None)]
  else:
    stages = [(train, config.epochs, None)]
  if warm_start_from:
    with strategy.scope():  # weights exist only after a first call
      # training=True: a thinned CDN builds its regularizer head only there.
      built.model.compute_loss(next(iter(stages[0][0])), training=True)
    warm_start.restore(built.model, vocab, warm_start_from)
  history: Dict[str, List[float]] = {}
  trained = TrainedModel(built, config, feature_config, means, history,
                         timer.seconds, vocab, None, frequencies)
  callbacks: List[tf.keras.callbacks.Callback] = [timer]
  best = None
  if config.early_stopping_patience:
    if config.early_stopping_metric == "ndcg":
      best = _BestWeights(config.early_stopping_patience,
                          _validation_ndcg(trained, data),
                          f"validation NDCG@{config.serving_k}", True)
    else:
      best = _BestWeights(config.early_stopping_patience, _validation_loss,
                          "validation loss", False)
    callbacks.append(best)
  done = 0
  for dataset, epochs, probability in stages:
    if probability is not None:
      built.model.use_item_probability(probability)
    result = built.model.fit(dataset, validation_data=evaluation,
                             initial_epoch=done, epochs=done + epochs,
                             steps_per_epoch=steps_per_epoch,
                             verbose=verbose, callbacks=callbacks)
    done += epochs
    for key, values in result.history.items():
      history.setdefault(key, []).extend(float(v) for v in values)
  if best is not None:
    if best.best_epoch is None:
      raise ValueError(f"early stopping: the {best.name} was never "
                       "finite; training diverged (try a lower "
                       "learning_rate)")
    best.restore(built.model)
    _log.info("early stopping: kept epoch %d of %d (%s %.4f)%s",
              best.best_epoch + 1, len(timer.seconds), best.name, best.best,
              f", stopped after epoch {best.stopped_epoch + 1}"
              if best.stopped_epoch is not None else "")
    trained.kept_epoch = best.best_epoch + 1
    if config.early_stopping_metric == "ndcg":
      history[f"val_ndcg_at_{config.serving_k}"] = best.values
  return trained
