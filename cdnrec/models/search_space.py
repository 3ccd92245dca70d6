"""The hyperparameters searched on the validation split, per model: one
definition shared by the pipeline's Tuner (components/tuner) and the
experiment harness's coordinate search (experiment/methods.py).

The paper's ranges (appendix B.3), trimmed where a value never won on the
development data; a setting fixed by the user is not searched.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from cdnrec.core.errors import ConfigError

COMMON_AXES: Dict[str, List[Any]] = {
    "learning_rate": [0.001, 0.0001],
    "temperature": [0.05, 0.1],
    "dropout": [0.0, 0.1],
}
# Width of every feature embedding: the Tuner searches it; the harness
# keeps the paper's 64 (its backbone is shared by every method).
WIDTH_AXIS: Dict[str, List[Any]] = {"embedding_dim": [32, 64, 128]}
EXPERT_AXES: Dict[str, List[Any]] = {
    "expert_layers": [[64], [256, 128, 64]],
    "num_memorization_experts": [1, 2, 3],
    "num_generalization_experts": [1, 2, 3],
}
GAMMA_AXIS: Dict[str, List[Any]] = {"gamma": [1.2, 1.5, 2.1, 3, 5, 10, 30]}
METHOD_AXES: Dict[str, Dict[str, List[Any]]] = {
    "logq": {"logq_weight": [0.1, 1, 10]},
    "class_balance": {"class_balance_beta": [0.9, 0.99, 0.999, 0.9999]},
}
_GAMMA_MODELS = ("cdn", "udn", "experts_balanced", "experts_headtail")
_EXPERT_MODELS = ("cdn", "idn", "bdn")


def axes(model: str, with_width: bool = False) -> Dict[str, List[Any]]:
  """Setting -> the values tried, in the order a coordinate search visits
  them."""
  out = dict(COMMON_AXES)
  if with_width:
    out.update(WIDTH_AXIS)
  out.update(METHOD_AXES.get(model, {}))
  if model in _GAMMA_MODELS:
    out.update(GAMMA_AXIS)
  if model in _EXPERT_MODELS:
    out.update(EXPERT_AXES)
  return out


# Tuner objectives: what a trial's validation metrics are reduced to.
OBJECTIVES = ("overall", "tail_weighted")


@dataclasses.dataclass(frozen=True)
class TuneConfig:
  """The pipeline's hyperparameter search (CdnTuner), on the validation
  split only.

  Attributes:
    trials: settings tried (random draws from the search space).
    epochs: epochs of each trial (None: the Trainer's).
    objective: "overall" (overall NDCG@K on validation) or "tail_weighted"
      (the mean of overall and tail NDCG@K).
    max_queries: validation users ranked per trial, a seeded sample above.
    seed: seeds the draws.
    fixed: settings the user fixed (`--set`): not searched.
  """
  trials: int = 10
  epochs: Optional[int] = None
  objective: str = "overall"
  max_queries: int = 20_000
  seed: int = 0
  fixed: Tuple[str, ...] = ()

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "TuneConfig":
    return cls(**{**d, "fixed": tuple(d.get("fixed", ()))})

  def validate(self) -> None:
    if self.trials < 1:
      raise ConfigError(f"tune trials must be >= 1, got {self.trials}")
    if self.epochs is not None and self.epochs < 1:
      raise ConfigError(f"tune epochs must be >= 1, got {self.epochs}")
    if self.objective not in OBJECTIVES:
      raise ConfigError(f"tune objective must be one of {list(OBJECTIVES)}, "
                        f"got {self.objective!r}")
    if self.max_queries < 1:
      raise ConfigError(f"tune max_queries must be >= 1, got "
                        f"{self.max_queries}")

  def to_dict(self) -> Dict[str, Any]:
    return {**dataclasses.asdict(self), "fixed": list(self.fixed)}


def objective_value(metrics: Dict[str, Any], objective: str) -> float:
  """A trial's score from the Evaluator's validation metrics."""
  overall = metrics["overall"]["ndcg"]
  if objective == "tail_weighted":
    return 0.5 * (overall + metrics["tail"]["ndcg"])
  return overall


def to_choice(value: Any) -> Any:
  """A search-space value as KerasTuner's Choice holds it (scalars only):
  layer lists become "256,128,64"."""
  if isinstance(value, (list, tuple)):
    return ",".join(str(v) for v in value)
  return value


def from_choice(name: str, value: Any) -> Any:
  """The TrainConfig value of a Choice value (to_choice reversed)."""
  if name.endswith("_layers") and isinstance(value, str):
    return [int(v) for v in value.split(",")]
  return value


def chosen_settings(hyperparameters: Optional[Dict[str, Any]]
                    ) -> Dict[str, Any]:
  """TrainConfig settings from a Tuner's best_hyperparameters (KerasTuner's
  HyperParameters config: {"space": ..., "values": ...})."""
  if not hyperparameters:
    return {}
  values = hyperparameters.get("values", hyperparameters)
  return {name: from_choice(name, value) for name, value in values.items()}
