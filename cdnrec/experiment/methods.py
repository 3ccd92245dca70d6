"""The methods `cdnrec experiment` compares, each a TrainConfig recipe.

Every method shares the backbone (towers [256, 128, 64], 64-d embeddings,
the same features) and the budget: `epochs` for one-stage methods, half and
half for two-stage ones.
"""

import dataclasses
from typing import Any, Dict, List

from cdnrec.core.errors import ConfigError
from cdnrec.models import config as config_lib
from cdnrec.models import search_space

# name -> fixed settings on top of the shared backbone.
METHODS: Dict[str, Dict[str, Any]] = {
    name: {"model": name} for name in config_lib.MODELS}
# Non-neural baselines (baselines.py): no backbone, no epochs, no seeds.
BASELINES = ("most_popular", "ease")


@dataclasses.dataclass(frozen=True)
class Grid:
  """Hyperparameters searched on the validation split, one at a time in this
  order (coordinate search), each value tried with the best of the others."""
  axes: Dict[str, List[Any]]


def settings(method: str) -> Dict[str, Any]:
  if method not in METHODS:
    raise ConfigError(f"unknown method {method!r}; choose from "
                     f"{sorted(METHODS) + list(BASELINES)}")
  return dict(METHODS[method])


def check(method: str) -> None:
  """ConfigError unless method is a known neural method or baseline."""
  if method not in BASELINES:
    settings(method)


def grid(method: str) -> Grid:
  """The method's search space (models/search_space.py, the pipeline's
  Tuner searches the same); `--set NAME=VALUE` fixes an axis."""
  return Grid(search_space.axes(settings(method)["model"]))
