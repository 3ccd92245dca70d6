"""Settings of a pipeline run: typed, one owner for each default, checked
before any component runs.

Upper-case names are the embedded local run's constants (as in TFX's
pipeline templates); `PipelineConfig` is everything a run may vary. The CLI
(`cdnrec run`, `cdnrec compile`) and programmatic callers build one
`PipelineConfig` and call `validate()`; `create_pipeline` validates again,
so a spec compiled from Python is checked too.
"""

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from cdnrec.core import blessing
from cdnrec.core import item_stats
from cdnrec.core.errors import ConfigError
from cdnrec.data import readers
from cdnrec.models import config as config_lib
from cdnrec.models import search_space

PIPELINE_NAME = "cdnrec"
RUN_FN = "cdnrec.models.trainer.run_fn"

# In-memory DirectRunner: on 2 cores, starting worker processes (each
# importing TensorFlow) costs more than it saves on the default data.
# Distributed runners take their own args, e.g. ['--runner=DataflowRunner',
# '--project=...', '--region=...', '--temp_location=gs://...'].
BEAM_PIPELINE_ARGS = ["--direct_running_mode=in_memory",
                      "--direct_num_workers=1"]

# InfraValidator: where it starts TF Serving ("none": no such node), and
# the image, TF Serving linked with the ScaNN ops at the TF version the
# model is trained with (docker/serving/Dockerfile uses the same).
INFRA_VALIDATOR_PLATFORMS = ("none", "docker", "kubernetes")
SCANN_SERVING_IMAGE = "google/tf-serving-scann:2.16.1"

# `baseline` values besides a model name.
AUTO_BASELINE = "auto"
NO_BASELINE = "none"
FEATURE_SIDES = ("user", "item")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the interactions are and how ExampleGen and ItemStatsGen read them.

  Attributes:
    data_dir: the dataset's folder, in the layout `data_format` names.
    data_format: a reader of cdnrec.data.readers (readers.NAMES).
    reader_config: the table mapping (`table`), or {"dataset": ...} (`tfds`).
    max_bad_rows: malformed or dangling rows to skip before failing.
    features: {"user": [...], "item": [...]}: the columns to use as features
      instead of all of them.
    schema_path: a curated schema.pbtxt to validate against; None infers one.
    head_fraction: share of items that are head; None takes the format's
      (readers.head_fraction: the paper's per dataset).
    seed: orders interactions without timestamps; seeds Ω_r's sample.
  """
  data_dir: str
  data_format: str = "recbole"
  reader_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  max_bad_rows: int = 0
  features: Optional[Mapping[str, Sequence[str]]] = None
  schema_path: Optional[str] = None
  head_fraction: Optional[float] = None
  seed: int = 0

  @property
  def resolved_head_fraction(self) -> float:
    if self.head_fraction is not None:
      return self.head_fraction
    return readers.head_fraction(self.data_format)

  def validate(self) -> None:
    if self.data_format not in readers.NAMES:
      raise ConfigError(f"data format must be one of {list(readers.NAMES)}, "
                        f"got {self.data_format!r}")
    if not self.data_dir:
      raise ConfigError(f"data format {self.data_format} needs a data folder "
                        "(--data-dir)")
    if self.max_bad_rows < 0:
      raise ConfigError(f"max_bad_rows must be >= 0, got {self.max_bad_rows}")
    if not 0.0 < self.resolved_head_fraction < 1.0:
      raise ConfigError(f"head_fraction must be in (0, 1), got "
                        f"{self.resolved_head_fraction}")
    unknown = sorted(set(self.features or {}) - set(FEATURE_SIDES))
    if unknown:
      raise ConfigError(f"features are selected per side {list(FEATURE_SIDES)}"
                        f", got {unknown}")


@dataclasses.dataclass(frozen=True)
class InfraValidationConfig:
  """Whether TFX's InfraValidator checks, before the Pusher, that TF
  Serving loads the model and answers predict requests built from the eval
  split (the model's own warm-up records are replayed at load).

  Attributes:
    platform: "docker" (a Docker engine where the component runs),
      "kubernetes" (a pod in the cluster the pipeline runs in) or "none".
    image: TF Serving image, name:tag; it must hold the ScaNN ops.
    num_examples: eval examples sent as predict requests.
    max_loading_time_seconds: how long TF Serving may take to load it.
    num_tries: attempts before the model is judged not servable.
  """
  platform: str = "none"
  image: str = SCANN_SERVING_IMAGE
  num_examples: int = 8
  max_loading_time_seconds: int = 300
  num_tries: int = 3

  @property
  def enabled(self) -> bool:
    return self.platform != "none"

  def validate(self) -> None:
    if self.platform not in INFRA_VALIDATOR_PLATFORMS:
      raise ConfigError(f"infra validator platform must be one of "
                        f"{list(INFRA_VALIDATOR_PLATFORMS)}, got "
                        f"{self.platform!r}")
    name, _, tag = self.image.rpartition(":")
    if not name or not tag or "/" in tag:
      raise ConfigError(f"infra validator image must be NAME:TAG, got "
                        f"{self.image!r}")
    for field in ("num_examples", "max_loading_time_seconds", "num_tries"):
      if getattr(self, field) < 1:
        raise ConfigError(f"infra validator {field} must be >= 1, got "
                          f"{getattr(self, field)}")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """What one pipeline run trains, how it judges it, and what it pushes.

  Attributes:
    data: the input and its reading.
    train: the model the Trainer trains (its `serving_k` is the index's K).
    baseline: a model trained beside it in the same run, which the first
      candidate must not fall behind (later ones are compared against the
      model last blessed); None trains none.
    eval_k: K of the Evaluator's HR@K / NDCG@K (exact ranking; the index
      recall check uses the index's own K, train.serving_k).
    eval_users: the Evaluator ranks at most this many held-out users, a
      seeded sample when there are more (None: all); its metrics carry the
      standard errors the sample implies.
    thresholds: the blessing bars.
    keep_versions: pushed versions kept in each serving folder.
    warm_start: start training from the last blessed model's weights.
    infra_validation: whether TF Serving must load and answer the model
      before it is pushed (InfraValidator).
    tune: search the Trainer's settings on the validation split first
      (CdnTuner); None: train with `train` as given.
    hyperparameters_dir: a folder holding an earlier search's
      best_hyperparameters.txt, imported (TFX's Importer) instead of tuning.
  """
  data: DataConfig
  train: config_lib.TrainConfig = config_lib.TrainConfig()
  baseline: Optional[config_lib.TrainConfig] = None
  eval_k: int = 50
  eval_users: Optional[int] = 20_000
  thresholds: blessing.Thresholds = blessing.Thresholds()
  keep_versions: int = 5
  warm_start: bool = False
  infra_validation: InfraValidationConfig = InfraValidationConfig()
  tune: Optional[search_space.TuneConfig] = None
  hyperparameters_dir: Optional[str] = None

  def validate(self) -> None:
    self.data.validate()
    self.infra_validation.validate()
    if self.tune is not None:
      self.tune.validate()
      if self.hyperparameters_dir:
        raise ConfigError("tune or reuse hyperparameters, not both: "
                          "--tune searches anew, --hyperparameters imports "
                          "an earlier search's best")
    self.train.validate()
    if self.baseline is not None:
      self.baseline.validate()
    self.thresholds.validate()
    if self.eval_k < 1:
      raise ConfigError(f"eval_k must be >= 1, got {self.eval_k}")
    if self.eval_users is not None and self.eval_users < 1:
      raise ConfigError(f"eval_users must be >= 1, got {self.eval_users}")
    if self.keep_versions < 1:
      raise ConfigError(f"keep_versions must be >= 1, got "
                        f"{self.keep_versions}")


def baseline_config(baseline: str, train: config_lib.TrainConfig
                    ) -> Optional[config_lib.TrainConfig]:
  """The baseline's TrainConfig: same budget and data, its own defaults.

  baseline: a model name, AUTO_BASELINE (the two-tower, unless that is what
  `train` trains) or NO_BASELINE.
  """
  if baseline == AUTO_BASELINE:
    baseline = NO_BASELINE if train.model == "two_tower" else "two_tower"
  if baseline == NO_BASELINE:
    return None
  return config_lib.TrainConfig.from_dict(
      {"model": baseline, "epochs": train.epochs,
       "batch_size": train.batch_size, "seed": train.seed,
       "serving_k": train.serving_k})

