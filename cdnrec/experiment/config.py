"""What `cdnrec experiment` compares and how, typed and checked before any
data is read."""

import dataclasses
from typing import Any, Dict, Mapping, Tuple

from cdnrec.core import item_stats
from cdnrec.core.errors import ConfigError
from cdnrec.data import readers
from cdnrec.experiment import methods as methods_lib
from cdnrec.models import config as config_lib


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Attributes:
    data_dir, data_format, max_bad_rows, reader_config: the data (as the
      pipeline's DataConfig).
    out_dir: results.json, plots and the run cache.
    methods: method names (experiment/methods.py), neural ones and the
      baselines most_popular and ease (experiment/baselines.py).
    seeds: every method is trained once per seed; tables give mean ± SEM.
    epochs: the shared training budget (the paper's protocol).
    eval_k: K of HR@K / NDCG@K.
    head_fraction: share of items that are head.
    tune: coordinate search on the validation split (else defaults and
      overrides only).
    gammas: CDN's γ values for gamma.png (empty: none).
    overrides: training settings fixed for every method (`--set`).
    frontier: sweep each method's head/tail knob (methods.KNOBS) instead of
      tuning, and draw frontier.png; baselines are single points.
    sweeps: method -> knob values replacing methods.KNOBS's.
    posthoc: methods whose model at its given settings is also re-scored
      with post-hoc logit adjustment over posthoc_taus (--frontier only).
    posthoc_taus: the τ values of post-hoc adjustment.
  """
  data_dir: str
  out_dir: str
  # The baselines by default: every table shows whether the neural models
  # are worth their cost on the data at hand.
  methods: Tuple[str, ...] = ("cdn", "two_tower", "ease", "most_popular")
  seeds: Tuple[int, ...] = (0, 1, 2, 3, 4)
  epochs: int = 40
  eval_k: int = 50
  head_fraction: float = item_stats.HEAD_FRACTION
  tune: bool = True
  gammas: Tuple[float, ...] = ()
  data_format: str = "recbole"
  max_bad_rows: int = 0
  reader_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)
  frontier: bool = False
  sweeps: Mapping[str, Tuple[float, ...]] = dataclasses.field(
      default_factory=dict)
  posthoc: Tuple[str, ...] = ("two_tower",)
  posthoc_taus: Tuple[float, ...] = methods_lib.POSTHOC_TAUS

  def knob_values(self, method: str) -> Tuple[float, ...]:
    return tuple(self.sweeps.get(method, methods_lib.knob(method).values))

  def validate(self) -> None:
    if self.data_format not in readers.NAMES:
      raise ConfigError(f"data format must be one of {list(readers.NAMES)}, "
                        f"got {self.data_format!r}")
    if not self.methods:
      raise ConfigError("name at least one method")
    for method in self.methods:
      methods_lib.check(method)
    if not self.seeds:
      raise ConfigError("name at least one seed")
    if self.epochs < 1 or self.eval_k < 1:
      raise ConfigError(f"epochs and eval_k must be >= 1, got "
                        f"{self.epochs} and {self.eval_k}")
    if not 0.0 < self.head_fraction < 1.0:
      raise ConfigError(f"head_fraction must be in (0, 1), got "
                        f"{self.head_fraction}")
    if any(g <= 1 for g in self.gammas):
      raise ConfigError(f"every γ must be > 1, got {list(self.gammas)}")
    if self.frontier:
      self._validate_frontier()
    elif (self.sweeps or self.posthoc != ExperimentConfig.posthoc or
          self.posthoc_taus != ExperimentConfig.posthoc_taus):
      raise ConfigError("--sweep, --posthoc and --posthoc-taus apply to "
                        "--frontier")
    # Names and types of the overrides, before any training.
    neural = [m for m in self.methods if m not in methods_lib.BASELINES]
    config_lib.TrainConfig.from_dict(
        {**methods_lib.settings((neural or ["two_tower"])[0]),
         **self.overrides})

  def _validate_frontier(self) -> None:
    neural = [m for m in self.methods if m not in methods_lib.BASELINES]
    for method in neural:
      setting = methods_lib.knob(method).setting
      if setting in self.overrides:
        raise ConfigError(f"--frontier sweeps {setting} for {method}; drop "
                          f"--set {setting}=... (use --sweep "
                          f"{method}=V1,V2,...)")
      values = self.knob_values(method)
      if not values:
        raise ConfigError(f"--sweep {method}= names no value")
      for value in values:  # every point a valid config before training
        point = config_lib.TrainConfig.from_dict(
            {**methods_lib.settings(method), **self.overrides,
             setting: value})
        if (setting == "sampling_correction_strength" and
            not point.sampling_correction):
          raise ConfigError(f"--frontier sweeps {method}'s correction "
                            f"strength, which sampling_correction=false "
                            f"turns off")
    for method in self.sweeps:
      if method not in neural:
        raise ConfigError(f"--sweep {method}=...: {method} is not among "
                          f"--methods {','.join(self.methods)}")
    for method in self.posthoc:
      if method in methods_lib.BASELINES:
        raise ConfigError(f"post-hoc adjustment re-scores a trained "
                          f"embedding model; {method} is not one")
      methods_lib.settings(method)
    if self.posthoc and not self.posthoc_taus:
      raise ConfigError("--posthoc-taus names no τ")
