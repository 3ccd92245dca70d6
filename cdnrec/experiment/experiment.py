"""Methods x seeds on one dataset: tuning on validation, testing, reporting.

Every run's result is saved under `<out>/runs/` keyed by its full settings,
so an interrupted experiment resumes where it stopped and a rerun with more
seeds only trains the new ones.
"""

import logging
import os
from typing import Any, Dict, List

import numpy as np

from cdnrec.core import item_stats
from cdnrec.experiment import baselines
from cdnrec.experiment import cache as cache_lib
from cdnrec.experiment import data as data_lib
from cdnrec.experiment import frontier as frontier_lib
from cdnrec.experiment import methods as methods_lib
from cdnrec.experiment import plots
from cdnrec.experiment import report
from cdnrec.experiment import run as run_lib
from cdnrec.experiment.config import ExperimentConfig
from cdnrec.models import config as config_lib

_log = logging.getLogger("cdnrec.experiment")


def _validation_score(result: run_lib.RunResult) -> float:
  """What tuning maximizes: overall NDCG@K on the validation items."""
  return result.metrics["eval"]["overall"]["ndcg"]


def tune(method: str, base: Dict[str, Any], cache: cache_lib.RunCache,
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
  cache = cache_lib.RunCache(config.out_dir, prepared, config.eval_k)
  if "ease" in config.methods:
    # Refused now, before any training, rather than after the neural runs
    # (baselines.run checks again on the exact counts).
    summary = item_stats.load_summary(prepared.item_stats_uri)
    if summary.n_users:
      baselines.check_size("ease", summary.n_users, summary.n_items)
  if config.frontier:
    return _frontier(config, cache)
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
  results["_protocol"] = _protocol(config)
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
  cache_lib.write_json(os.path.join(config.out_dir, "results.json"), results)
  return results


def _protocol(config: ExperimentConfig) -> Dict[str, Any]:
  return {"k": config.eval_k, "seeds": list(config.seeds),
          "head_fraction": config.head_fraction,
          "excluded": "each user's own train and validation items",
          "data_dir": os.path.abspath(config.data_dir)}


def _frontier(config: ExperimentConfig,
              cache: cache_lib.RunCache) -> Dict[str, Any]:
  """`--frontier`: every method's knob swept (frontier.py), baselines as
  single points; results.json holds the curves and CDN's comparisons."""
  results: Dict[str, Any] = {
      method: _baseline(method, cache, config) for method in config.methods
      if method in baselines.METHODS}
  curves = frontier_lib.sweep(config, cache)
  results["_frontier"] = {
      "curves": curves,
      "cdn_against": frontier_lib.comparisons(curves, config.eval_k),
      "settings": {m: {**methods_lib.settings(m), "epochs": config.epochs,
                       **config.overrides} for m in curves
                   if not m.endswith(frontier_lib.POSTHOC)}}
  results["_protocol"] = _protocol(config)
  plots.frontier(curves, os.path.join(config.out_dir, "frontier.png"),
                 config.eval_k, {m: results[m] for m in results
                                 if not m.startswith("_")})
  cache_lib.write_json(os.path.join(config.out_dir, "results.json"), results)
  return results


def _baseline(method: str, cache: cache_lib.RunCache,
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


def _gamma_sweep(config: ExperimentConfig, cache: cache_lib.RunCache,
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
