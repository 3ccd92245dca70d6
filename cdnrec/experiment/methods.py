"""The methods `cdnrec experiment` compares, each a TrainConfig recipe.

Every method shares the backbone (towers [256, 128, 64], 64-d embeddings,
the same features) and the budget: `epochs` for one-stage methods, half and
half for two-stage ones.
"""

import dataclasses
from typing import Any, Dict, List

from cdnrec.core.errors import ConfigError
from cdnrec.models import config as config_lib

# name -> fixed settings on top of the shared backbone.
METHODS: Dict[str, Dict[str, Any]] = {
    name: {"model": name} for name in config_lib.MODELS}


@dataclasses.dataclass(frozen=True)
class Grid:
  """Hyperparameters searched on the validation split, one at a time in this
  order (coordinate search), each value tried with the best of the others."""
  axes: Dict[str, List[Any]]


# The paper's ranges (appendix B.3), trimmed where a value never won on the
# development data; `--set NAME=VALUE` fixes an axis and skips its search.
COMMON_AXES = {
    "learning_rate": [0.001, 0.0001],
    "temperature": [0.05, 0.1],
    "dropout": [0.0, 0.1],
}
EXPERT_AXES = {
    "expert_layers": [[64], [256, 128, 64]],
    "num_memorization_experts": [1, 2, 3],
    "num_generalization_experts": [1, 2, 3],
}
GAMMA_AXIS = {"gamma": [1.2, 1.5, 2.1, 3, 5, 10, 30]}
METHOD_AXES = {
    "logq": {"logq_weight": [0.1, 1, 10]},
    "class_balance": {"class_balance_beta": [0.9, 0.99, 0.999, 0.9999]},
}


def settings(method: str) -> Dict[str, Any]:
  if method not in METHODS:
    raise ConfigError(f"unknown method {method!r}; choose from "
                     f"{sorted(METHODS)}")
  return dict(METHODS[method])


def grid(method: str) -> Grid:
  model = settings(method)["model"]
  axes = dict(COMMON_AXES)
  axes.update(METHOD_AXES.get(model, {}))
  if model in ("cdn", "udn", "experts_balanced", "experts_headtail"):
    axes.update(GAMMA_AXIS)
  if model in ("cdn", "idn", "bdn"):
    axes.update(EXPERT_AXES)
  return Grid(axes)
