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
  """
  data_dir: str
  out_dir: str
  methods: Tuple[str, ...] = ("cdn", "two_tower")
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
    # Names and types of the overrides, before any training.
    neural = [m for m in self.methods if m not in methods_lib.BASELINES]
    config_lib.TrainConfig.from_dict(
        {**self.overrides,
         "model": self.overrides.get("model", (neural or ["two_tower"])[0])})
