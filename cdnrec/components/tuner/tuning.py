"""`tuner_fn` for CdnTuner: a KerasTuner search on the validation split.

Each trial trains the Trainer's model (training.fit, the same code the
Trainer runs) with settings drawn from models/search_space.py, the space
the experiment harness searches too, then ranks the validation split's
held-out items with the Evaluator's exact ranking (each user's train items
excluded) and scores the trial by the objective (overall NDCG@K, or its
mean with tail NDCG@K). The test split is never read. The best trial's
settings become the Tuner's best_hyperparameters, which the Trainer takes
over its own.
"""

import logging
from typing import Any, Dict

import keras_tuner
import tensorflow as tf
from tfx.components.tuner.component import TunerFnResult

from cdnrec.core import item_stats
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking
from cdnrec.core import uris
from cdnrec.models import config as config_lib
from cdnrec.models import search_space
from cdnrec.models import trainer
from cdnrec.models import training

_log = logging.getLogger("cdnrec.tuner")
OBJECTIVE = keras_tuner.Objective("validation_score", direction="max")
# custom_config keys (CdnTuner sets them).
TRAIN_KEY, TUNE_KEY, K_KEY = "train", "tune", "k"


class RetrievalTuner(keras_tuner.engine.base_tuner.BaseTuner):
  """Trains and scores one setting per trial; no Keras model is kept."""

  def __init__(self, oracle, data: training.TrainingInputs,
               examples_uri: str, base: Dict[str, Any],
               tune: search_space.TuneConfig, k: int, **kwargs):
    super().__init__(oracle, **kwargs)
    self._data = data
    self._examples_uri = examples_uri
    self._base = base
    self._tune = tune
    self._k = k

  def run_trial(self, trial, *args, **kwargs):
    settings = {**self._base,
                **search_space.chosen_settings(trial.hyperparameters.values)}
    try:
      config = config_lib.TrainConfig.from_dict(settings)
      trained = training.fit(self._data, config, verbose=0)
      item_ids, item_vectors = trained.item_embeddings(self._data)
      metrics = ranking.evaluate_embeddings(
          trained.embed_examples, item_ids, item_vectors,
          queries_lib.load(self._examples_uri, "eval",
                                 ranking.exclude_splits("eval"),
                                 self._tune.max_queries, self._tune.seed),
          item_stats.load_item_rows(self._data.item_stats_uri), self._k,
          "eval")
    except ranking.NonFiniteEmbeddings as e:
      # A setting that diverges on this data is a result, not a bug: the
      # lowest score NDCG can take, and the search goes on.
      _log.warning("trial %s %s diverged (%s): score 0", trial.trial_id,
                   trial.hyperparameters.values, e)
      return {OBJECTIVE.name: 0.0}
    except Exception as e:
      # KerasTuner would mark the trial invalid and go on: a setting that
      # cannot train is a bug in the search space, so the Tuner fails.
      raise keras_tuner.errors.FatalError(
          f"trial {trial.trial_id} ({trial.hyperparameters.values}) "
          f"failed: {e}") from e
    finally:
      tf.keras.backend.clear_session()
    score = search_space.objective_value(metrics, self._tune.objective)
    _log.info("trial %s %s: validation overall NDCG@%d %.4f, tail %.4f, "
              "score %.4f", trial.trial_id, trial.hyperparameters.values,
              self._k, metrics["overall"]["ndcg"], metrics["tail"]["ndcg"],
              score)
    return {OBJECTIVE.name: score}

  def save_model(self, trial_id, model, step=0):
    """Nothing to keep: the Trainer retrains with the best settings."""

  def load_model(self, trial):
    raise NotImplementedError("trials keep no model; train with the best "
                              "hyperparameters instead")


def hyperparameters(model: str, fixed) -> keras_tuner.HyperParameters:
  """The search space of `model`, less the settings the user fixed."""
  hp = keras_tuner.HyperParameters()
  for name, values in search_space.axes(model, with_width=True).items():
    if name in fixed:
      continue
    choices = [search_space.to_choice(v) for v in values]
    if any(isinstance(v, float) for v in choices):
      choices = [float(v) for v in choices]  # one type per Choice: 3 -> 3.0
    hp.Choice(name, choices)
  return hp


def tuner_fn(fn_args) -> TunerFnResult:
  """TFX's tuner_fn: CdnTuner passes the Trainer's settings, the search's
  and the extra artifacts (CdnFnArgs)."""
  custom = fn_args.custom_config
  tune = search_space.TuneConfig.from_dict(custom[TUNE_KEY])
  tune.validate()
  base = dict(custom[TRAIN_KEY])
  if tune.epochs is not None:
    base["epochs"] = tune.epochs
  base["seed"] = tune.seed
  data = trainer.training_inputs(fn_args)
  oracle = keras_tuner.oracles.RandomSearchOracle(
      objective=OBJECTIVE, max_trials=tune.trials, seed=tune.seed,
      hyperparameters=hyperparameters(base["model"], set(tune.fixed)))
  tuner = RetrievalTuner(
      oracle, data, uris.local_path(fn_args.examples_uri), base, tune,
      int(custom[K_KEY]), directory=fn_args.working_dir,
      project_name="cdnrec", overwrite=True)
  return TunerFnResult(tuner=tuner, fit_kwargs={})
