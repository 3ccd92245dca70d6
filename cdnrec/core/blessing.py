"""Whether a trained model may be pushed: the blessing decision.

A model is blessed when
  - its overall HR@K and NDCG@K are not worse than the reference model's
    (the model last blessed, else a baseline trained in the same run) by
    more than `max_regression` (relative), both measured on the same
    current test data;
  - its tail HR@K and NDCG@K reach absolute bars; and
  - its ScaNN index finds at least `min_index_recall` of the exact top-K
    items for held-out queries.
With no reference (a first run without a baseline) only the absolute bars
apply, and the decision says so.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from cdnrec.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Thresholds:
  """Bars a model must clear; metrics are fractions in [0, 1]."""
  max_regression: float = 0.02
  min_tail_hr: float = 0.05
  min_tail_ndcg: float = 0.01
  min_index_recall: float = 0.95

  def validate(self) -> None:
    for name, value in dataclasses.asdict(self).items():
      if not 0.0 <= value <= 1.0:
        raise ConfigError(f"blessing threshold {name} must be in [0, 1], "
                         f"got {value}")


@dataclasses.dataclass(frozen=True)
class Check:
  name: str
  value: float
  bar: float
  passed: bool

  def describe(self) -> str:
    verdict = "ok" if self.passed else "FAILED"
    return f"{self.name}: {self.value:.4f} vs bar {self.bar:.4f} ({verdict})"


@dataclasses.dataclass(frozen=True)
class Decision:
  blessed: bool
  checks: List[Check]
  reference: Optional[str]  # what the relative checks compared against

  @property
  def reasons(self) -> List[str]:
    failed = [c.describe() for c in self.checks if not c.passed]
    if failed:
      return failed
    return ["every check passed" + (
        "" if self.reference else
        " (no earlier blessed model and no baseline: absolute bars only)")]

  def to_dict(self) -> Dict[str, Any]:
    return {"blessed": self.blessed, "reference": self.reference,
            "reasons": self.reasons,
            "checks": [dataclasses.asdict(c) for c in self.checks]}

  def describe(self) -> str:
    head = "BLESSED" if self.blessed else "NOT BLESSED"
    against = f" against {self.reference}" if self.reference else ""
    lines = [f"model {head}{against}:"]
    lines += ["  " + c.describe() for c in self.checks]
    return "\n".join(lines)


def decide(candidate: Dict[str, Any], index_recall: float,
           thresholds: Thresholds,
           reference: Optional[Dict[str, Any]] = None,
           reference_name: Optional[str] = None) -> Decision:
  """candidate / reference: the evaluator's metrics ({slice: {"hr",
  "ndcg"}}), both on the same test data."""
  checks = []
  if reference is not None:
    for metric in ("hr", "ndcg"):
      bar = reference["overall"][metric] * (1.0 - thresholds.max_regression)
      value = candidate["overall"][metric]
      checks.append(Check(f"overall {metric} (reference "
                          f"{reference['overall'][metric]:.4f} - "
                          f"{100 * thresholds.max_regression:g}%)",
                          value, bar, value >= bar))
  for metric, bar in (("hr", thresholds.min_tail_hr),
                      ("ndcg", thresholds.min_tail_ndcg)):
    value = candidate["tail"][metric]
    # A test set without tail items cannot fail the tail bar.
    passed = candidate["tail"]["count"] == 0 or value >= bar
    checks.append(Check(f"tail {metric}", value, bar, passed))
  checks.append(Check("index recall", index_recall,
                      thresholds.min_index_recall,
                      index_recall >= thresholds.min_index_recall))
  return Decision(all(c.passed for c in checks), checks,
                  reference_name if reference is not None else None)
