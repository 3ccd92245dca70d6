"""Methods x seeds on one dataset: tuning on validation, testing, reporting.

Every run's result is saved under `<out>/runs/` keyed by its full settings,
so an interrupted experiment resumes where it stopped and a rerun with more
seeds only trains the new ones.
"""

import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Sequence

import numpy as np

from cdnrec.experiment import baselines
from cdnrec.experiment import data as data_lib
from cdnrec.experiment import methods as methods_lib
from cdnrec.experiment import plots
from cdnrec.experiment import report
from cdnrec.experiment import run as run_lib
from cdnrec.experiment.config import ExperimentConfig
from cdnrec.models import config as config_lib

_log = logging.getLogger("cdnrec.experiment")


def _write_json(path: str, value) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)


def code_version() -> str:
  """Hash of the code a run's result depends on, so edited models never
  reuse stale results."""
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  h = hashlib.sha256()
  for dirpath, dirnames, files in os.walk(package):
    dirnames.sort()  # walk in a fixed order
    for name in sorted(files):
      if name.endswith(".py"):
        with open(os.path.join(dirpath, name), "rb") as f:
          h.update(name.encode() + f.read())
  return h.hexdigest()[:16]


class _RunCache:
  """Results of finished runs, one JSON file per distinct configuration and
  code version."""

  def __init__(self, out_dir: str, prepared: data_lib.PreparedData, k: int):
    self._dir = os.path.join(out_dir, "runs")
    os.makedirs(self._dir, exist_ok=True)
    self._prepared = prepared
    self._k = k
    self._code = code_version()

  def get(self, config: config_lib.TrainConfig,
          splits: Sequence[str]) -> run_lib.RunResult:
    return self._cached(config.model, config.to_dict(), splits,
                        lambda: run_lib.train_and_evaluate(
                            self._prepared, config, self._k, splits))

  def baseline(self, method: str, settings: Dict[str, Any],
               splits: Sequence[str]) -> run_lib.RunResult:
    return self._cached(method, {"model": method, **settings}, splits,
                        lambda: baselines.run(method, self._prepared,
                                              self._k, settings, splits))

  def _cached(self, model: str, config: Dict[str, Any],
              splits: Sequence[str], compute) -> run_lib.RunResult:
    key = json.dumps({"config": config, "k": self._k,
                      "splits": list(splits), "code": self._code},
                     sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = os.path.join(self._dir, f"{model}-{name}.json")
    if os.path.exists(path):
      with open(path) as f:
        return run_lib.RunResult(**json.load(f))
    result = compute()
    _write_json(path, dataclasses.asdict(result))
    return result


def _validation_score(result: run_lib.RunResult) -> float:
  """What tuning maximizes: overall NDCG@K on the validation items."""
  return result.metrics["eval"]["overall"]["ndcg"]


def tune(method: str, base: Dict[str, Any], cache: _RunCache,
         seed: int) -> Dict[str, Any]:
  """Coordinate search over the method's grid on the validation split."""
  chosen = dict(base)
  trials = []
  for axis, values in methods_lib.grid(method).axes.items():
    if axis in base.get("_fixed", ()):
      continue
    scores = []
    for value in values:
      settings = {k: v for k, v in chosen.items() if k != "_fixed"}
      settings.update({axis: value, "seed": seed})
      # Test metrics are computed too (seconds) so the chosen seed-0 run is
      # reused, but only validation decides.
      result = cache.get(config_lib.TrainConfig.from_dict(settings),
                         ["eval", "test"])
      scores.append(_validation_score(result))
      trials.append({"settings": {axis: value}, "validation_ndcg":
                     scores[-1]})
      _log.info("  tune %s %s=%s: validation NDCG@K %.4f", method, axis,
                value, scores[-1])
    chosen[axis] = values[int(np.argmax(scores))]
  chosen.pop("_fixed", None)
  chosen["_trials"] = trials
  return chosen


def run(config: ExperimentConfig) -> Dict[str, Any]:
  os.makedirs(config.out_dir, exist_ok=True)
  prepared = data_lib.prepare(config.data_dir, config.out_dir,
                              config.head_fraction,
                              data_format=config.data_format,
                              max_bad_rows=config.max_bad_rows,
                              reader_config=config.reader_config)
  cache = _RunCache(config.out_dir, prepared, config.eval_k)
  results: Dict[str, Any] = {}
  gate_summaries = []
  chosen_by_method = {}
  for method in config.methods:
    if method in baselines.METHODS:
      results[method] = _baseline(method, cache, config)
      continue
    base = {**methods_lib.settings(method), "epochs": config.epochs,
            **config.overrides, "_fixed": tuple(config.overrides)}
    if config.tune:
      chosen = tune(method, base, cache, seed=config.seeds[0])
    else:
      chosen = {k: v for k, v in base.items() if k != "_fixed"}
    trials = chosen.pop("_trials", [])
    chosen_by_method[method] = chosen
    runs = []
    for seed in config.seeds:
      _log.info("%s seed %d", method, seed)
      runs.append(cache.get(config_lib.TrainConfig.from_dict(
          {**chosen, "seed": seed}), ["eval", "test"]))
    results[method] = report.aggregate(runs, config.eval_k)
    results[method]["hyperparameters"] = chosen
    results[method]["tuning"] = {"criterion": "validation overall NDCG@K",
                                 "trials": trials}
    if runs[0].gates:
      gate_summaries += [r.gates for r in runs]
  results["_protocol"] = {
      "k": config.eval_k, "seeds": list(config.seeds),
      "head_fraction": config.head_fraction,
      "excluded": "each user's own train and validation items",
      "data_dir": os.path.abspath(config.data_dir)}
  if gate_summaries:
    mean_gates = {s: {e: float(np.mean([g[s][e] for g in gate_summaries]))
                      for e in ("memorization", "generalization")}
                  for s in ("head", "tail")}
    results["_gates"] = mean_gates
    plots.gates(mean_gates, os.path.join(config.out_dir, "gates.png"))
  if config.gammas:
    results["_gamma"] = _gamma_sweep(config, cache, chosen_by_method)
    plots.gamma(config.gammas, results["_gamma"]["ndcg"],
                os.path.join(config.out_dir, "gamma.png"), config.eval_k)
  _write_json(os.path.join(config.out_dir, "results.json"), results)
  return results


def _baseline(method: str, cache: _RunCache,
              config: ExperimentConfig) -> Dict[str, Any]:
  """A deterministic baseline: one fit, reported for every seed (SEM 0);
  EASE's λ chosen on the validation split (always: it costs seconds)."""
  trials = []
  settings: Dict[str, Any] = {}
  if method == "ease":
    scores = []
    for l2 in baselines.EASE_LAMBDAS:
      result = cache.baseline(method, {"l2": l2}, ["eval", "test"])
      scores.append(_validation_score(result))
      trials.append({"settings": {"l2": l2}, "validation_ndcg": scores[-1]})
      _log.info("  tune ease l2=%s: validation NDCG@K %.4f", l2, scores[-1])
    settings = {"l2": baselines.EASE_LAMBDAS[int(np.argmax(scores))]}
  run = cache.baseline(method, settings, ["eval", "test"])
  out = report.aggregate([run] * len(config.seeds), config.eval_k)
  out["hyperparameters"] = {"model": method, **settings}
  out["tuning"] = {"criterion": "validation overall NDCG@K",
                   "trials": trials,
                   "note": "deterministic: one fit, the same for every seed"}
  return out


def _gamma_sweep(config: ExperimentConfig, cache: _RunCache,
                 chosen: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
  """CDN's test NDCG@K per slice against γ, averaged over the seeds."""
  base = chosen.get("cdn") or {**methods_lib.settings("cdn"),
                               "epochs": config.epochs, **config.overrides}
  ndcg: Dict[str, List[float]] = {s: [] for s in report.SLICES}
  for gamma in config.gammas:
    runs = [cache.get(config_lib.TrainConfig.from_dict(
        {**base, "gamma": gamma, "seed": seed}), ["eval", "test"])
            for seed in config.seeds]
    for s in report.SLICES:
      ndcg[s].append(float(np.mean([100 * r.metrics["test"][s]["ndcg"]
                                    for r in runs])))
  return {"gammas": list(config.gammas), "ndcg": ndcg}
