"""gates.png (the paper's Fig. 3) and gamma.png (Fig. 4)."""

from typing import Dict, Sequence

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
