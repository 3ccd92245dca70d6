"""The methods `cdnrec experiment` compares, each a TrainConfig recipe.

Every method shares the backbone (towers [256, 128, 64], 64-d embeddings,
the same features) and the budget: `epochs` for one-stage methods, half and
half for two-stage ones.
"""

import dataclasses
from typing import Any, Dict, List, Tuple

from cdnrec.core.errors import ConfigError
from cdnrec.models import config as config_lib
from cdnrec.models import search_space

# name -> fixed settings on top of the shared backbone.
METHODS: Dict[str, Dict[str, Any]] = {
    name: {"model": name} for name in config_lib.MODELS}
# CDN under each reading of its Ω_r batch, named so that one experiment
# compares them (`cdn` itself is the pipeline's default reading).
METHODS["cdn_drawn"] = {"model": "cdn", "regularizer_batch": "drawn",
                        "cdn_loss": "joint"}
METHODS["cdn_thinned"] = {"model": "cdn", "regularizer_batch": "thinned",
                          "cdn_loss": "separate"}
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


@dataclasses.dataclass(frozen=True)
class Knob:
  """The setting that moves a method along the head/tail trade-off, and the
  values `cdnrec experiment --frontier` sweeps by default."""
  setting: str
  values: Tuple[float, ...]


KNOBS: Dict[str, Knob] = {
    # −s·log q_j: 0 lets popular items' in-batch negatives push them down,
    # above 1 over-corrects towards head items.
    "two_tower": Knob("sampling_correction_strength", (0.0, 0.5, 1.0, 1.5)),
    "cdn": Knob("gamma", (1.5, 2.1, 3.0, 5.0, 10.0, 30.0)),
    "cdn_drawn": Knob("gamma", (1.5, 2.1, 3.0, 5.0, 10.0, 30.0)),
    "cdn_thinned": Knob("gamma", (1.5, 2.1, 3.0, 5.0, 10.0, 30.0)),
    # LogQ's w·log π_j on top of the correction: with π = q it is the
    # two-tower at strength 1 − w, so w > 1 continues that curve to the tail.
    "logq": Knob("logq_weight", (1.0, 1.5, 2.0)),
    "class_balance": Knob("class_balance_beta", (0.9, 0.99, 0.999, 0.9999)),
    "bdn": Knob("bdn_alpha", (0.5, 0.7, 0.9)),
}
# τ of post-hoc logit adjustment (core/logit_adjustment.py): one trained
# model, re-scored at each.
POSTHOC_TAUS: Tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def model(method: str) -> str:
  """The model a method trains (`cdn_thinned` trains `cdn`); a baseline's
  own name."""
  return method if method in BASELINES else settings(method)["model"]


def knob(method: str) -> Knob:
  """ConfigError for a method without a trade-off knob."""
  if method not in KNOBS:
    raise ConfigError(f"{method!r} has no head/tail knob for --frontier; "
                      f"methods with one: {sorted(KNOBS)} (and the "
                      f"baselines {list(BASELINES)} as single points)")
  return KNOBS[method]
