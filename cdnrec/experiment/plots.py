"""gates.png (the paper's Fig. 3), gamma.png (Fig. 4) and frontier.png."""

from typing import Any, Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402


def gates(summary: Dict[str, Dict[str, float]], path: str) -> None:
  """summary: {"head"|"tail": {"memorization", "generalization"}} means."""
  fig, axes = plt.subplots(1, 2, figsize=(7, 3), sharey=True)
  for ax, expert in zip(axes, ("memorization", "generalization")):
    values = [summary["head"][expert], summary["tail"][expert]]
    ax.bar(["head", "tail"], values, color=["tab:blue", "tab:orange"])
    ax.set_title(f"{expert} experts")
    for x, v in enumerate(values):
      ax.text(x, v, f"{v:.3f}", ha="center", va="bottom")
  top = max(summary[s][e] for s in ("head", "tail")
            for e in ("memorization", "generalization"))
  axes[0].set_ylim(0, min(1.05, top * 1.2 + 0.02))
  axes[0].set_ylabel("mean gate weight")
  fig.suptitle("CDN gate weights by item slice")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def gamma(gammas: Sequence[float], ndcg: Dict[str, Sequence[float]],
          path: str, k: int = 50) -> None:
  """ndcg: slice -> NDCG@k (in %) per gamma."""
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for name, values in ndcg.items():
    ax.plot(list(gammas), list(values), marker="o", label=name)
  ax.set_xscale("log")
  ax.set_xticks(list(gammas))
  ax.set_xticklabels([f"{g:g}" for g in gammas])
  ax.set_xlabel("γ")
  ax.set_ylabel(f"NDCG@{k} (%)")
  ax.legend(loc="best", fontsize="small")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def frontier(curves: Dict[str, List[Dict[str, Any]]], path: str, k: int = 50,
             baselines: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
  """Test head HR@k (x) against tail HR@k (y), mean ± SEM, one line per
  curve in knob order, each point labelled with its knob value and overall
  HR@k; baselines (one point each) as crosses."""
  fig, ax = plt.subplots(figsize=(8, 6))
  hr = f"hr@{k}"
  for name, points in curves.items():
    x = [p["test"]["head"][hr]["mean"] for p in points]
    y = [p["test"]["tail"][hr]["mean"] for p in points]
    bars = ax.errorbar(x, y, xerr=[p["test"]["head"][hr]["sem"] for p in points],
                       yerr=[p["test"]["tail"][hr]["sem"] for p in points],
                       marker="o", markersize=4, capsize=2, label=name)
    for p, xi, yi in zip(points, x, y):
      ax.annotate(f"{p['value']:g} ({p['test']['overall'][hr]['mean']:.1f})",
                  (xi, yi), textcoords="offset points", xytext=(3, 3),
                  fontsize=6, color=bars[0].get_color())
  for name, r in (baselines or {}).items():
    ax.errorbar([r["head"][hr]["mean"]], [r["tail"][hr]["mean"]],
                marker="x", markersize=8, linestyle="none", label=name)
  ax.set_xlabel(f"head HR@{k} (%)")
  ax.set_ylabel(f"tail HR@{k} (%)")
  ax.set_title(f"Head/tail frontier: knob value (overall HR@{k})",
               fontsize="medium")
  ax.grid(alpha=0.3)
  ax.legend(loc="best", fontsize="small")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
