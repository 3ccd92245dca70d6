"""Training and export settings: the Trainer's custom_config, typed.

`TrainConfig.from_dict` is the one place settings from outside (the CLI's
`--set`, a pipeline spec, a results cache) become a config: unknown names,
wrong types and out-of-range values fail there, before any work starts.
"""

import dataclasses
import typing
from typing import Any, Dict, Mapping, Optional, Tuple

from cdnrec.core.errors import ConfigError

# Models with one user tower, and bilateral ones (a main and a regularizer
# branch over Ω_r; registry.py builds both kinds). The one list of names.
SINGLE_USER_MODELS = ("two_tower", "class_balance", "logq", "ndp", "idn")
BILATERAL_MODELS = ("udn", "bbn", "bdn", "cdn", "experts_balanced",
                    "experts_headtail")
MODELS = SINGLE_USER_MODELS + BILATERAL_MODELS
ALPHA_UNITS = ("epoch", "step")
CDN_LOSSES = ("auto", "joint", "separate")
REGULARIZER_BATCHES = ("auto", "drawn", "thinned")
SPARSE_UPDATES = ("auto", "lazy", "dense")
DISTRIBUTIONS = ("default", "mirrored", "multi_worker")
EARLY_STOPPING_METRICS = ("loss", "ndcg")
TWO_STAGE_MODELS = ("ndp",)  # Ω_m, then Ω_r (registry.py)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Hyperparameters of the retrieval model and its export.

  Attributes:
    model: "cdn" (the Cross Decoupling Network), "two_tower", or a
      baseline / ablation of registry.py.
    epochs: passes over the train split.
    batch_size: examples per step; also the number of in-batch negatives.
    learning_rate: Adam's learning rate.
    embedding_dim: width of every feature embedding (64 in the paper).
    tower_layers: hidden and output widths of both towers ([256, 128, 64]).
    temperature: in-batch softmax logits are divided by it.
    normalize: L2-normalize tower outputs (cosine scores) when True.
    sampling_correction: subtract log q_j (the candidate's sampling
      probability) from batch-softmax logits (Yi et al. 2019).
    sampling_correction_strength: s of the correction, which subtracts
      s·log q_j: 1 is Yi et al.'s, 0 none, above 1 over-corrects (the
      two-tower's knob of the head/tail trade-off, `--frontier`).
    dropout: dropout rate after each hidden layer.
    l2: L2 regularization weight on embeddings and dense kernels.
    serving_k: items the serving signature returns (the exported index's K;
      the evaluation's K is the pipeline's eval_k).
    seed: seeds weights and shuffling.
    scann_num_leaves: ScaNN tree leaves; None picks sqrt(#items).
    scann_leaves_to_search: None searches enough leaves to see 20,000
      items and at least a tenth of them (export.scann_params).
    scann_reordering: exact re-scoring candidates; None picks max(20k, 500).
    num_memorization_experts: CDN item experts over the item id (n1).
    num_generalization_experts: CDN item experts over item content (n2).
    expert_layers: layer widths of each item expert; (64,) is the paper's
      single layer of 64 units, the default is the towers' [256, 128, 64].
    memorization_expert_layers: layer widths of the memorization experts
      when they differ from `expert_layers` (None: the same). Their input
      is the item id's embedding alone (docs/results.md compares widths).
    normalize_experts: L2-normalize each item expert's output before the
      gate mixes them (modules/expert_item_tower.py says why).
    gamma: the γ-adapter's regularizer rate, > 1.
    alpha_unit: "epoch" (Algorithm 1) or "step": what t counts in α_t.
    cdn_loss: "joint" (Algorithm 1) or "separate"; see cdn.py. "auto"
      (default): "separate" for the thinned Ω_r batch, which needs it,
      "joint" for the drawn one (`resolved_cdn_loss`).
    regularizer_batch: where a bilateral model's Ω_r examples come from:
      "thinned" (each step keeps the Ω_m batch's examples with probability
      min(1, cap / n_i), which is a sample of Ω_r whose towers are already
      computed; needs the separate loss) or "drawn" (Algorithm 1: each
      step reads a second batch of batch_size examples from Ω_r). "auto"
      (default, `resolved_regularizer_batch`): thinned for CDN, drawn for
      the other bilateral models (their papers' second batch) and
      whenever cdn_loss="joint" asks for Algorithm 1.
    logq_weight: w of the LogQ baseline's logit adjustment.
    posthoc_tau: τ of post-hoc logit adjustment in the exported model and
      its evaluation: every item's score is lowered by τ·log π_i (its
      training prior) on the scale of the training logits
      (core/logit_adjustment.py); 0 serves the model as trained. No
      retraining: `cdnrec experiment --frontier` shows the trade-off.
    class_balance_beta: β of the ClassBalance baseline's effective number.
    bdn_alpha: the constant weight of BDN's main branch (its regularizer
      branch gets 1 − bdn_alpha).
    distribution: tf.distribute strategy: "default" (one device),
      "mirrored" (all local GPUs, else all logical CPUs) or "multi_worker"
      (from TF_CONFIG).
    distinct_items: run the item tower once per distinct item of a batch
      and give every row its item's embedding (modules/distinct_items.py):
      faster, and rows of one item share a dropout mask; False (default)
      runs it on every row.
    sparse_updates: how Adam updates embedding tables: "dense" (Keras's
      Adam: every row's moments every step, a cost that grows with the
      vocabulary), "lazy" (only the rows in the batch; optimizer.py) or
      "auto" (lazy when an id vocabulary has over
      optimizer.AUTO_LAZY_ROWS rows).
    early_stopping_patience: stop after this many epochs without a better
      early_stopping_metric, and keep the weights of the epoch with the
      best (0: train every epoch and keep the last weights).
    early_stopping_metric: what early stopping watches on the validation
      split: "loss" (the training loss on validation examples) or "ndcg"
      (overall NDCG@serving_k, full-corpus ranking under the protocol, on a
      seeded sample of at most early_stopping_queries users).
    early_stopping_queries: validation users ranked after each epoch when
      early_stopping_metric is "ndcg".
    cache_examples: hold the serialized training examples (Ω_m, Ω_r) in
      memory after the first epoch when they are small enough
      (inputs.CACHE_MAX_BYTES); larger ones are always streamed.
  """
  model: str = "two_tower"
  epochs: int = 5
  batch_size: int = 1024
  learning_rate: float = 0.001
  embedding_dim: int = 64
  tower_layers: Tuple[int, ...] = (256, 128, 64)
  # Defaults chosen on ml-100k's validation split: the settings of every
  # figure in docs/results.md.
  temperature: float = 0.1
  normalize: bool = True
  sampling_correction: bool = True
  sampling_correction_strength: float = 1.0
  dropout: float = 0.1
  l2: float = 0.0
  serving_k: int = 50
  seed: int = 0
  scann_num_leaves: Optional[int] = None
  scann_leaves_to_search: Optional[int] = None
  scann_reordering: Optional[int] = None
  num_memorization_experts: int = 1
  num_generalization_experts: int = 1
  # Experts as deep as the two-tower's item tower, and γ 5: chosen on
  # ml-100k's validation split over the paper's single 64-unit layer and
  # γ 10 (docs/results.md).
  expert_layers: Tuple[int, ...] = (256, 128, 64)
  memorization_expert_layers: Optional[Tuple[int, ...]] = None
  normalize_experts: bool = False
  gamma: float = 5.0
  alpha_unit: str = "epoch"
  cdn_loss: str = "auto"
  # CDN's thinned batch: as accurate as Algorithm 1's drawn one within the
  # seeds' noise at about two thirds of its training cost
  # (docs/results.md); regularizer_batch="drawn" is Algorithm 1's reading.
  regularizer_batch: str = "auto"
  logq_weight: float = 1.0
  posthoc_tau: float = 0.0
  class_balance_beta: float = 0.999
  bdn_alpha: float = 0.5
  distinct_items: bool = False
  cache_examples: bool = True
  early_stopping_patience: int = 0
  early_stopping_metric: str = "loss"
  early_stopping_queries: int = 20_000
  sparse_updates: str = "auto"
  distribution: str = "default"

  @property
  def resolved_cdn_loss(self) -> str:
    """cdn_loss with "auto" decided by the Ω_r batch's reading."""
    if self.cdn_loss != "auto":
      return self.cdn_loss
    return ("separate" if self.resolved_regularizer_batch == "thinned"
            else "joint")

  @property
  def resolved_regularizer_batch(self) -> str:
    """regularizer_batch with "auto" decided (see the attribute)."""
    if self.regularizer_batch != "auto":
      return self.regularizer_batch
    return ("thinned" if self.model == "cdn" and self.cdn_loss != "joint"
            else "drawn")

  @classmethod
  def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "TrainConfig":
    """A validated config from plain values (JSON, `--set NAME=VALUE`).

    Raises:
      ConfigError: an unknown name (the message lists the known ones), a
        value of the wrong type, or a value out of range.
    """
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
      raise ConfigError(f"unknown training setting{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(unknown)}; known: {', '.join(sorted(known))}")
    hints = typing.get_type_hints(cls)
    for name, value in list(values.items()):
      values[name] = _coerce(name, value, hints[name])
    config = cls(**values)
    config.validate()
    return config

  def validate(self) -> None:
    if self.model not in MODELS:
      raise ConfigError(f"model must be one of {list(MODELS)}, got "
                       f"{self.model!r}")
    if not 0 < self.class_balance_beta < 1:
      raise ConfigError(f"class_balance_beta must be in (0, 1), got "
                       f"{self.class_balance_beta}")
    if self.sampling_correction_strength < 0:
      raise ConfigError(f"sampling_correction_strength must be >= 0, got "
                       f"{self.sampling_correction_strength}")
    if not 0 < self.bdn_alpha <= 1:
      raise ConfigError(f"bdn_alpha must be in (0, 1], got {self.bdn_alpha}")
    if self.gamma <= 1:
      raise ConfigError(f"gamma must be > 1, got {self.gamma}")
    if self.alpha_unit not in ALPHA_UNITS:
      raise ConfigError(f"alpha_unit must be 'epoch' or 'step', got "
                       f"{self.alpha_unit!r}")
    if self.cdn_loss not in CDN_LOSSES:
      raise ConfigError(f"cdn_loss must be one of {list(CDN_LOSSES)}, got "
                       f"{self.cdn_loss!r}")
    if self.sparse_updates not in SPARSE_UPDATES:
      raise ConfigError(f"sparse_updates must be one of {list(SPARSE_UPDATES)},"
                        f" got {self.sparse_updates!r}")
    if self.regularizer_batch not in REGULARIZER_BATCHES:
      raise ConfigError(f"regularizer_batch must be one of "
                        f"{list(REGULARIZER_BATCHES)}, got "
                        f"{self.regularizer_batch!r}")
    if self.regularizer_batch == "thinned" and self.cdn_loss == "joint":
      # Thinning keeps a varying subset of the batch: there is no b-th
      # regularizer example for every b-th main one to pair with.
      raise ConfigError("regularizer_batch='thinned' needs "
                       "cdn_loss='separate' (the joint loss pairs the b-th "
                       "examples of two equal batches)")
    if self.distribution not in DISTRIBUTIONS:
      raise ConfigError(f"distribution must be 'default', 'mirrored' or "
                       f"'multi_worker', got {self.distribution!r}")
    for name in ("epochs", "batch_size", "embedding_dim", "serving_k"):
      if getattr(self, name) < 1:
        raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
    if (self.memorization_expert_layers is not None and
        (not self.memorization_expert_layers or
         self.memorization_expert_layers[-1] != self.expert_layers[-1])):
      # The gate mixes the experts' outputs: their widths must agree.
      raise ConfigError(
          f"memorization_expert_layers must end in the experts' output "
          f"width {self.expert_layers[-1]}, got "
          f"{list(self.memorization_expert_layers)}")
    if not self.tower_layers:
      raise ConfigError("tower_layers must name at least one layer")
    if self.early_stopping_patience < 0:
      raise ConfigError(f"early_stopping_patience must be >= 0 (0: off), "
                        f"got {self.early_stopping_patience}")
    if self.early_stopping_metric not in EARLY_STOPPING_METRICS:
      raise ConfigError(f"early_stopping_metric must be one of "
                        f"{list(EARLY_STOPPING_METRICS)}, got "
                        f"{self.early_stopping_metric!r}")
    if self.early_stopping_queries < 1:
      raise ConfigError(f"early_stopping_queries must be >= 1, got "
                        f"{self.early_stopping_queries}")
    if self.early_stopping_patience and self.model in TWO_STAGE_MODELS:
      # Its stages compute the validation loss differently (the second
      # with Ω_r's frequencies): their losses do not compare.
      raise ConfigError(f"early_stopping_patience applies to one-stage "
                        f"models; {self.model} trains in two stages")
    if self.temperature <= 0:
      raise ConfigError(f"temperature must be > 0, got {self.temperature}")
    if not 0 <= self.dropout < 1:
      raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

  def to_dict(self) -> Dict[str, Any]:
    d = dataclasses.asdict(self)
    d["tower_layers"] = list(self.tower_layers)
    d["expert_layers"] = list(self.expert_layers)
    if self.memorization_expert_layers is not None:
      d["memorization_expert_layers"] = list(self.memorization_expert_layers)
    return d


def _coerce(name: str, value: Any, hint: Any) -> Any:
  """value as the field's type; 3 and 3.0 are one float setting (run caches
  key on the values), [256, 64] a tuple of widths."""
  optional = typing.get_origin(hint) is typing.Union
  if optional:
    if value is None:
      return None
    hint = next(a for a in typing.get_args(hint) if a is not type(None))
  if typing.get_origin(hint) is tuple:
    if (not isinstance(value, (list, tuple)) or
        not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
      raise ConfigError(f"{name} must be a list of integers, got {value!r}")
    return tuple(value)
  if hint is bool:
    if not isinstance(value, bool):
      raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value
  if hint is float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise ConfigError(f"{name} must be a number, got {value!r}")
    return float(value)
  if hint is int:
    if isinstance(value, bool) or not isinstance(value, int):
      raise ConfigError(f"{name} must be an integer, got {value!r}")
    return value
  if hint is str and not isinstance(value, str):
    raise ConfigError(f"{name} must be a string, got {value!r}")
  return value
