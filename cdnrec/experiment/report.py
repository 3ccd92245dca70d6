"""results.json and the paper's table layout."""

import math
from typing import Any, Dict, List, Sequence

import numpy as np

SLICES = ("overall", "head", "tail")
BASELINE = "two_tower"


def mean_sem(values: Sequence[float]) -> Dict[str, Any]:
  """Mean and standard error of the mean (sample std / sqrt(n))."""
  v = np.asarray(values, dtype=np.float64)
  sem = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
  return {"mean": float(v.mean()), "sem": sem, "seeds": [float(x) for x in v]}


def aggregate(runs: Sequence, k: int) -> Dict[str, Any]:
  """One method's test metrics (in %) over its seeds."""
  out: Dict[str, Any] = {}
  for name in SLICES:
    out[name] = {
        f"hr@{k}": mean_sem([100 * r.metrics["test"][name]["hr"]
                             for r in runs]),
        f"ndcg@{k}": mean_sem([100 * r.metrics["test"][name]["ndcg"]
                               for r in runs]),
    }
  # Epoch 1 includes tracing the graph; the steady state is what compares.
  steady = [s for r in runs for s in (r.epoch_seconds[1:] or r.epoch_seconds)]
  out["train_seconds_per_epoch"] = mean_sem(steady)
  out["test_cases"] = {name: runs[0].metrics["test"][name]["count"]
                       for name in SLICES}
  if any(r.kept_epoch for r in runs):
    # Early stopping: how long each seed trained, and which epoch it kept.
    out["early_stopping"] = {"epochs_trained": [len(r.epoch_seconds)
                                                for r in runs],
                             "kept_epoch": [r.kept_epoch for r in runs]}
  if all("eval" in r.metrics for r in runs):
    # What settings are chosen on; reported beside the test figures.
    out["validation"] = {name: {
        f"hr@{k}": mean_sem([100 * r.metrics["eval"][name]["hr"]
                             for r in runs]),
        f"ndcg@{k}": mean_sem([100 * r.metrics["eval"][name]["ndcg"]
                               for r in runs])} for name in SLICES}
  return out


def table(results: Dict[str, Any], k: int) -> str:
  """Rows of methods, columns HR/NDCG per slice as mean ± sem, and a last
  row with each method's improvement over two-tower in %."""
  columns = [(s, m) for s in SLICES for m in (f"hr@{k}", f"ndcg@{k}")]
  header = ["method"] + [f"{m.upper()} {s}" for s, m in columns] + ["s/epoch"]
  rows: List[List[str]] = [header]
  methods = [m for m in results if not m.startswith("_")]
  for method in methods:
    r = results[method]
    rows.append([method] + [f"{r[s][m]['mean']:.2f} ± {r[s][m]['sem']:.2f}"
                            for s, m in columns] +
                [f"{r['train_seconds_per_epoch']['mean']:.2f}"])
  if BASELINE in results:
    base = results[BASELINE]
    for method in methods:
      if method == BASELINE:
        continue
      r = results[method]
      cells = []
      for s, m in columns:
        b = base[s][m]["mean"]
        cells.append(f"{100 * (r[s][m]['mean'] - b) / b:+.2f}%" if b else "n/a")
      ratio = (r["train_seconds_per_epoch"]["mean"] /
               base["train_seconds_per_epoch"]["mean"])
      rows.append([f"{method} vs {BASELINE}"] + cells + [f"{ratio:.2f}x"])
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
  lines.insert(1, "  ".join("-" * w for w in widths))
  return "\n".join(lines)
