"""The head/tail frontier: each method's trade-off knob swept over seeds,
and one trained model re-scored with post-hoc logit adjustment.

A point is one setting of a method's knob (methods.KNOBS), trained once per
seed; its coordinates are test HR@K on head items (x) and on tail items
(y), mean ± SEM over the seeds, with overall HR@K and the validation
figures beside them so an operating point is chosen on validation.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from cdnrec.experiment import cache as cache_lib
from cdnrec.experiment import methods as methods_lib
from cdnrec.experiment import report
from cdnrec.experiment import run as run_lib
from cdnrec.experiment.config import ExperimentConfig
from cdnrec.models import config as config_lib

_log = logging.getLogger("cdnrec.experiment")

POSTHOC = "+posthoc"  # suffix of a post-hoc curve's name
TAU = "tau"


def _point(knob: str, value: float, runs: Sequence[run_lib.RunResult],
           k: int) -> Dict[str, Any]:
  out = report.aggregate(runs, k)
  point = {"knob": knob, "value": value, "test": {
      s: out[s] for s in report.SLICES}, "validation": out.get("validation"),
           "train_seconds_per_epoch": out["train_seconds_per_epoch"]}
  if all(r.gates for r in runs):
    # Per seed, so a split that holds in some seeds only shows as such.
    head = [r.gates["head"]["memorization"] for r in runs]
    tail = [r.gates["tail"]["memorization"] for r in runs]
    point["memorization_gate"] = {
        "head": head, "tail": tail,
        "seeds_head_above_tail": int(sum(h > t for h, t in zip(head, tail)))}
  return point


def sweep(config: ExperimentConfig, cache: cache_lib.RunCache
          ) -> Dict[str, List[Dict[str, Any]]]:
  """curve name -> points in knob order: one curve per neural method, and
  `<method>+posthoc` over τ for each method of config.posthoc."""
  base_of = {}
  for method in set(config.methods) | set(config.posthoc):
    if method not in methods_lib.BASELINES:
      base_of[method] = {**methods_lib.settings(method),
                         "epochs": config.epochs, **config.overrides}

  def runs(settings, taus=()):
    return [cache.get(config_lib.TrainConfig.from_dict(
        {**settings, "seed": seed}), ["eval", "test"], taus)
            for seed in config.seeds]

  def posthoc_taus(method, settings) -> Sequence[float]:
    # The post-hoc curve re-scores the run at the method's own settings.
    given = config_lib.TrainConfig.from_dict(base_of[method])
    return (config.posthoc_taus if method in config.posthoc and
            config_lib.TrainConfig.from_dict(settings) == given else ())

  curves: Dict[str, List[Dict[str, Any]]] = {}
  posthoc_runs: Dict[str, List[run_lib.RunResult]] = {}
  for method in config.methods:
    if method in methods_lib.BASELINES:
      continue
    setting = methods_lib.knob(method).setting
    curves[method] = []
    for value in config.knob_values(method):
      settings = {**base_of[method], setting: value}
      _log.info("frontier %s %s=%g, seeds %s", method, setting, value,
                list(config.seeds))
      taus = posthoc_taus(method, settings)
      found = runs(settings, taus)
      if taus:
        posthoc_runs[method] = found
      curves[method].append(_point(setting, value, found, config.eval_k))
  for method in config.posthoc:
    if method not in posthoc_runs:
      _log.info("frontier %s at its settings for post-hoc τ", method)
      posthoc_runs[method] = runs(base_of[method], config.posthoc_taus)
    curves[method + POSTHOC] = [
        _point(TAU, tau, [dataclasses.replace(
            r, metrics=r.posthoc[f"{tau:g}"]) for r in posthoc_runs[method]],
               config.eval_k) for tau in config.posthoc_taus]
  return curves


def _hr(point: Dict[str, Any], slice_: str, k: int) -> Dict[str, float]:
  return point["test"][slice_][f"hr@{k}"]


def compare(curve: Sequence[Dict[str, Any]], other: Sequence[Dict[str, Any]],
            k: int) -> List[Dict[str, Any]]:
  """Where each point of `curve` lies against `other`: `other`'s tail HR@K
  interpolated linearly at the point's head HR@K, and the gap with its
  standard error.

  When every point of both curves has the same number (>= 2) of seeds, the
  comparison is paired: seed i of the point against seed i of `other`'s
  curve, interpolated at seed i's head HR@K (clamped to that seed's
  curve), and the SE is that of the per-seed gaps. Points of one curve are
  not independent (a post-hoc curve re-scores the same models), which a
  paired SE takes into account. Otherwise the SE combines the point's SEM
  and the interpolated one, taken as the weighted sum of its neighbours'
  (as if fully correlated: the larger, cautious value).

  Returns per point {"value", "head", "tail", "other_tail", "gap", "se",
  "paired", "verdict"}: verdict "above" / "below" when |gap| > 2 SE,
  "level" within, "outside" when `other` does not reach that head HR@K
  (on the means).
  """
  heads = [_hr(p, "head", k) for p in other]
  tails = [_hr(p, "tail", k) for p in other]
  xs = np.array([h["mean"] for h in heads])
  order = np.argsort(xs, kind="stable")
  counts = {len(_hr(p, s, k)["seeds"]) for p in list(curve) + list(other)
            for s in ("head", "tail")}
  paired = len(counts) == 1 and counts.pop() >= 2
  out = []
  for p in curve:
    head, tail = _hr(p, "head", k), _hr(p, "tail", k)
    row = {"value": p["value"], "head": head["mean"], "tail": tail["mean"],
           "other_tail": None, "gap": None, "se": None, "paired": paired,
           "verdict": "outside"}
    if not len(xs) or not xs[order[0]] <= head["mean"] <= xs[order[-1]]:
      out.append(row)
      continue
    if paired:
      other_y = []
      for i, x in enumerate(head["seeds"]):
        seed_x = np.array([h["seeds"][i] for h in heads])
        seed_y = np.array([t["seeds"][i] for t in tails])
        by_x = np.argsort(seed_x, kind="stable")
        other_y.append(float(np.interp(x, seed_x[by_x], seed_y[by_x])))
      gaps = np.asarray(tail["seeds"]) - np.asarray(other_y)
      other_tail, gap = float(np.mean(other_y)), float(gaps.mean())
      se = float(gaps.std(ddof=1) / np.sqrt(len(gaps)))
    else:
      sorted_x = xs[order]
      hi = int(np.searchsorted(sorted_x, head["mean"], side="left"))
      lo = hi if sorted_x[hi] == head["mean"] else hi - 1
      w = 0.0 if hi == lo else ((head["mean"] - sorted_x[lo]) /
                                (sorted_x[hi] - sorted_x[lo]))
      lo_t, hi_t = tails[order[lo]], tails[order[hi]]
      other_tail = (1 - w) * lo_t["mean"] + w * hi_t["mean"]
      other_se = (1 - w) * lo_t["sem"] + w * hi_t["sem"]
      gap = tail["mean"] - other_tail
      se = float(np.hypot(tail["sem"], other_se))
    verdict = ("level" if abs(gap) <= 2 * se else
               "above" if gap > 0 else "below")
    row.update(other_tail=float(other_tail), gap=float(gap), se=se,
               verdict=verdict)
    out.append(row)
  return out


SUBJECT = "cdn"  # the model whose curves are compared with every other


def comparisons(curves: Dict[str, List[Dict[str, Any]]], k: int
                ) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
  """{subject: {other: compare(...)}}: CDN's curves (`cdn`, `cdn+posthoc`,
  `cdn_thinned`, ...) each against every curve of another method (so
  `cdn_thinned` against `cdn`, but not `cdn` against `cdn+posthoc`)."""
  method = lambda name: name.split("+")[0]
  subjects = [n for n in curves if methods_lib.model(method(n)) == SUBJECT]
  return {s: {name: compare(curves[s], curve, k)
              for name, curve in curves.items() if method(name) != method(s)}
          for s in subjects}


def table(curves: Dict[str, List[Dict[str, Any]]], k: int,
          baselines: Optional[Dict[str, Any]] = None) -> str:
  """One row per point: curve, knob = value, validation NDCG@K overall, test
  HR@K overall / head / tail (mean ± SEM)."""
  header = ["curve", "knob", f"val NDCG@{k}", f"HR@{k} overall",
            f"HR@{k} head", f"HR@{k} tail"]
  rows = [header]
  cell = lambda m: f"{m['mean']:.2f} ± {m['sem']:.2f}"
  for name, points in curves.items():
    for p in points:
      val = p.get("validation") or {}
      rows.append([name, f"{p['knob']}={p['value']:g}",
                   cell(val["overall"][f"ndcg@{k}"]) if val else "n/a"] +
                  [cell(_hr(p, s, k)) for s in report.SLICES])
  for name, r in (baselines or {}).items():
    val = r.get("validation")
    rows.append([name, "-", cell(val["overall"][f"ndcg@{k}"]) if val else
                 "n/a"] + [cell(r[s][f"hr@{k}"]) for s in report.SLICES])
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
  lines.insert(1, "  ".join("-" * w for w in widths))
  return "\n".join(lines)


def comparison_text(found: Dict[str, Dict[str, List[Dict[str, Any]]]]
                    ) -> str:
  """Lines like `cdn at 5 vs two_tower: head 47.59, tail 19.56 vs 20.10,
  gap -0.54 (SE 0.40): level`."""
  lines = []
  for subject, against in found.items():
    for name, rows in against.items():
      lines += _comparison_lines(subject, name, rows)
  return "\n".join(lines)


def _comparison_lines(subject: str, name: str,
                      rows: Sequence[Dict[str, Any]]) -> List[str]:
  lines = []
  for r in rows:
    where = f"{subject} at {r['value']:g} vs {name}: head {r['head']:.2f}"
    if r["verdict"] == "outside":
      lines.append(f"{where}, outside {name}'s head range")
    else:
      lines.append(f"{where}, tail {r['tail']:.2f} vs "
                   f"{r['other_tail']:.2f}, gap {r['gap']:+.2f} (SE "
                   f"{r['se']:.2f}): {r['verdict']}")
  return lines
