"""Flag groups the commands share, and the one place parsed flags become
typed configs (checked before any work starts)."""

import argparse
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

from cdnrec.core import blessing
from cdnrec.core.errors import ConfigError
from cdnrec.data import readers
from cdnrec.data import synthetic
from cdnrec.models import config as config_lib
from cdnrec.models import search_space
from cdnrec.pipeline import configs

SYNTHETIC = "synthetic"
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.txt"  # TFX's Tuner writes it
_TRAIN = config_lib.TrainConfig()
_PIPELINE = configs.PipelineConfig(configs.DataConfig(data_dir=""))


def add_data(parser: argparse.ArgumentParser, default: Optional[str] = None,
             data_dir: Optional[str] = None,
             with_synthetic: bool = False) -> None:
  """--data and how to read it. default: the format when --data is not
  given (None: required); SYNTHETIC as default, or with_synthetic, adds
  the embedded generator as a choice and its size flags."""
  synthetic_default = default == SYNTHETIC or with_synthetic
  choices = ([SYNTHETIC] if synthetic_default else []) + list(readers.NAMES)
  group = parser.add_argument_group("data")
  group.add_argument(
      "--data", default=default, required=default is None, choices=choices,
      help="dataset layout; all but synthetic read --data-dir")
  group.add_argument("--data-dir", default=data_dir,
                     help="the dataset's folder")
  group.add_argument("--max-bad-rows", type=int, default=0,
                     help="malformed or dangling rows to skip before failing")
  group.add_argument("--table-config",
                     help="JSON column mapping for --data table")
  group.add_argument("--columns",
                     help="inline column mapping for --data table, e.g. "
                          "interactions=log.csv,user_id=uid,item_id=iid,"
                          "timestamp=ts,item:genres=token_seq")
  group.add_argument("--tfds-name", default="movielens/100k-ratings",
                     help="TFDS dataset for --data tfds")
  group.add_argument("--user-features", default=None,
                     help="comma-separated user columns to use (default: "
                          "all; '' for none)")
  group.add_argument("--item-features", default=None,
                     help="comma-separated item content columns to use "
                          "(default: all; '' for none)")
  group.add_argument("--head-fraction", type=float, default=None,
                     help="share of items that are head (default "
                          f"{readers.head_fraction('recbole')}; "
                          f"{readers.head_fraction('bookcrossing')} for "
                          "bookcrossing, as the paper)")
  if synthetic_default:
    d = synthetic.SyntheticConfig()
    size = parser.add_argument_group("synthetic data size (--data synthetic)")
    size.add_argument("--users", type=int, default=d.n_users)
    size.add_argument("--items", type=int, default=d.n_items)
    size.add_argument("--interactions", type=int, default=d.n_interactions)
    size.add_argument("--imbalance-factor", type=float,
                      default=d.imbalance_factor)
    size.add_argument("--data-seed", type=int, default=d.seed)
    size.add_argument("--identity-appeal", type=float,
                      default=d.identity_appeal,
                      help="weight of a latent, feature-free taste in head "
                           "items' appeal (data/synthetic.py), 0 to 1")


def add_training(parser: argparse.ArgumentParser) -> None:
  """The model the Trainer trains; defaults are TrainConfig's."""
  group = parser.add_argument_group("training (defaults: TrainConfig)")
  group.add_argument("--model", default="cdn", choices=config_lib.MODELS,
                     help="retrieval model the Trainer trains")
  group.add_argument("--epochs", type=int, default=_TRAIN.epochs)
  group.add_argument("--batch-size", type=int, default=_TRAIN.batch_size)
  group.add_argument("--learning-rate", type=float, default=None,
                     help=f"Adam's (default {_TRAIN.learning_rate})")
  group.add_argument("--serving-k", type=int, default=_TRAIN.serving_k,
                     help="items the exported index returns per query")
  group.add_argument("--seed", type=int, default=_TRAIN.seed,
                     help="seeds weights, shuffling, splits without "
                          "timestamps and Ω_r's sample")
  add_settings(group)


def add_settings(group) -> None:
  group.add_argument("--set", action="append", default=[],
                     metavar="NAME=VALUE",
                     help="any other training setting (docs/settings.md), "
                          "repeatable, e.g. --set gamma=5")


def add_blessing(parser: argparse.ArgumentParser) -> None:
  """How the Evaluator judges the model, and what the Pusher keeps."""
  t = _PIPELINE.thresholds
  group = parser.add_argument_group(
      "evaluation and blessing: only a model that clears these is pushed")
  group.add_argument("--eval-k", "--top-k", dest="eval_k", type=int,
                     default=_PIPELINE.eval_k,
                     help="K of the evaluation's HR@K / NDCG@K")
  group.add_argument("--eval-users", type=int, default=_PIPELINE.eval_users,
                     help="rank at most this many held-out users, a seeded "
                          "sample when there are more (0: all); the metrics "
                          "then carry standard errors")
  group.add_argument("--baseline", default=configs.AUTO_BASELINE,
                     help="model trained beside it in the same run; the "
                          "first run is compared against it, later runs "
                          "against the model last blessed. 'auto': "
                          "two_tower unless --model is two_tower; 'none'")
  group.add_argument("--max-regression", type=float, default=t.max_regression,
                     help="allowed relative drop of overall HR@K and NDCG@K")
  group.add_argument("--min-tail-hr", type=float, default=t.min_tail_hr)
  group.add_argument("--min-tail-ndcg", type=float, default=t.min_tail_ndcg)
  group.add_argument("--min-index-recall", type=float,
                     default=t.min_index_recall,
                     help="ScaNN recall against exact search, at its own K")
  group.add_argument("--keep-versions", type=int,
                     default=_PIPELINE.keep_versions,
                     help="pushed versions kept in each serving folder")
  group.add_argument("--warm-start", action="store_true",
                     help="start training from the last blessed model")
  group.add_argument("--schema", help="a curated schema.pbtxt; the run fails "
                     "on any anomaly against it (default: inferred)")


def add_tuning(parser: argparse.ArgumentParser) -> None:
  """The Tuner before the Trainer, or an earlier search's result."""
  t = search_space.TuneConfig()
  group = parser.add_argument_group(
      "tuning: TFX's Tuner searches the Trainer's settings on the "
      "validation split")
  group.add_argument("--tune", action="store_true",
                     help="search before training (settings given with "
                          "--set are kept, not searched)")
  group.add_argument("--tune-trials", type=int, default=t.trials,
                     help="settings tried")
  group.add_argument("--tune-epochs", type=int, default=None,
                     help="epochs per trial (default: --epochs)")
  group.add_argument("--tune-objective", default=t.objective,
                     choices=search_space.OBJECTIVES,
                     help="overall NDCG@K on validation, or its mean with "
                          "tail NDCG@K")
  group.add_argument("--hyperparameters", metavar="DIR",
                     help="reuse an earlier search: a folder holding "
                          "best_hyperparameters.txt (the Tuner's output), "
                          "imported instead of tuning")


def _given(args) -> Dict[str, Any]:
  """Training settings the user gave: `--set` ones and flags given."""
  given = settings(args.set)
  if getattr(args, "learning_rate", None) is not None:
    given["learning_rate"] = args.learning_rate
  return given


def hyperparameters_dir(path: Optional[str],
                        given: Optional[Dict[str, Any]] = None
                        ) -> Optional[str]:
  """The folder the Importer reads: PATH itself, or the folder of a
  best_hyperparameters.txt named directly. Local paths are checked: the
  folder must hold that file alone (TFX's Trainer reads the only file
  there), and a setting the user gave must not be one the file sets."""
  if not path:
    return None
  if "://" in path:
    return path
  if os.path.basename(path) == BEST_HYPERPARAMETERS_FILE:
    path = os.path.dirname(path) or "."
  where = ("the Tuner writes it under <output>/pipeline/CdnTuner/"
           "best_hyperparameters/<id>/")
  if not os.path.isfile(os.path.join(path, BEST_HYPERPARAMETERS_FILE)):
    raise ConfigError(f"--hyperparameters {path}: no "
                      f"{BEST_HYPERPARAMETERS_FILE} there ({where})")
  others = sorted(set(os.listdir(path)) - {BEST_HYPERPARAMETERS_FILE})
  if others:
    raise ConfigError(f"--hyperparameters {path}: the folder must hold "
                      f"{BEST_HYPERPARAMETERS_FILE} alone, also found "
                      f"{others[:3]}")
  with open(os.path.join(path, BEST_HYPERPARAMETERS_FILE)) as f:
    try:
      imported = search_space.chosen_settings(json.load(f))
    except (ValueError, AttributeError) as e:
      raise ConfigError(f"--hyperparameters {path}: "
                        f"{BEST_HYPERPARAMETERS_FILE} is not a Tuner's "
                        f"output ({e})") from None
  both = sorted(set(imported) & set(given or {}))
  if both:
    raise ConfigError(f"--hyperparameters {path} sets {both}, which you "
                      "also gave: keep one")
  return os.path.abspath(path)


def add_infra_validation(parser: argparse.ArgumentParser) -> None:
  """Whether TF Serving must load and answer the model before the push."""
  v = _PIPELINE.infra_validation
  group = parser.add_argument_group(
      "infra validation: TFX's InfraValidator between the Evaluator and "
      "the Pusher")
  group.add_argument("--infra-validator", default=v.platform,
                     choices=configs.INFRA_VALIDATOR_PLATFORMS,
                     help="start TF Serving in Docker or a Kubernetes pod "
                          "and send it eval examples; only a model it "
                          "serves is pushed")
  group.add_argument("--infra-validator-image", default=v.image,
                     help="TF Serving image with the ScaNN ops, NAME:TAG")


def add_beam(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--beam-arg", action="append", default=None,
                      help="a Beam pipeline arg, repeatable (e.g. "
                           "--beam-arg=--runner=DataflowRunner)")


def settings(pairs: List[str]) -> Dict[str, Any]:
  """`--set NAME=VALUE` pairs: '3' -> 3, '0.5' -> 0.5, '[256,64]' -> [256,
  64], 'true' -> True, anything else the string."""
  out = {}
  for item in pairs:
    name, sep, value = item.partition("=")
    if not sep or not name:
      raise ConfigError(f"--set {item!r} must look like NAME=VALUE")
    try:
      out[name] = json.loads(value)
    except json.JSONDecodeError:
      out[name] = value
  return out


def reader_config(args) -> Dict[str, Any]:
  if args.data == "table":
    if args.table_config:
      try:
        with open(args.table_config, encoding="utf-8") as f:
          mapping = json.load(f)
      except OSError as e:
        raise ConfigError(f"--table-config {args.table_config}: "
                          f"{e.strerror}") from None
      except (ValueError, RecursionError) as e:  # not JSON, not UTF-8
        raise ConfigError(f"--table-config {args.table_config}: not a UTF-8 "
                          f"JSON object ({e})") from None
      if not isinstance(mapping, dict):
        raise ConfigError(f"--table-config {args.table_config}: expected a "
                          f"JSON object, got {type(mapping).__name__}")
      return mapping
    if args.columns:
      from cdnrec.data.readers import table
      return table.parse_columns(args.columns)
    raise ConfigError("--data table needs --table-config or --columns")
  if args.data == "tfds":
    return {"dataset": args.tfds_name}
  return {}


def feature_selection(args) -> Optional[Dict[str, List[str]]]:
  out = {}
  for side in configs.FEATURE_SIDES:
    value = getattr(args, f"{side}_features")
    if value is not None:
      out[side] = [c for c in value.split(",") if c]
  return out or None


def synthetic_config(args) -> synthetic.SyntheticConfig:
  config = synthetic.SyntheticConfig(
      n_users=args.users, n_items=args.items, n_interactions=args.interactions,
      imbalance_factor=args.imbalance_factor, seed=args.data_seed,
      identity_appeal=args.identity_appeal)
  config.validate()
  return config


def ensure_synthetic(args, data_dir: str) -> None:
  """Generates the --data synthetic dataset into data_dir unless a complete
  one is there (the interaction file is written last)."""
  config = synthetic_config(args)
  if os.path.exists(os.path.join(data_dir, "synthetic.inter")):
    print(f"[cdnrec] using generated data in {data_dir}")
  else:
    print(f"[cdnrec] generating {config}")
    synthetic.generate(config, data_dir)


def synthetic_dir(args, output_dir: str) -> str:
  """Where `cdnrec run` keeps the generated data of these size flags."""
  return os.path.join(os.path.abspath(output_dir), "data",
                      synthetic.dataset_dir_name(synthetic_config(args)))


def data_config(args, data_dir: Optional[str] = None,
                seed: int = 0) -> configs.DataConfig:
  """The data flags as a DataConfig; data_dir overrides --data-dir (the
  generated data's folder for --data synthetic)."""
  return configs.DataConfig(
      data_dir=data_dir or args.data_dir or "",
      data_format="recbole" if args.data == SYNTHETIC else args.data,
      reader_config=reader_config(args), max_bad_rows=args.max_bad_rows,
      features=feature_selection(args),
      head_fraction=args.head_fraction, seed=seed)


def train_config(args) -> config_lib.TrainConfig:
  return config_lib.TrainConfig.from_dict({
      "model": args.model, "epochs": args.epochs,
      "batch_size": args.batch_size,
      "learning_rate": (_TRAIN.learning_rate if args.learning_rate is None
                        else args.learning_rate),
      "serving_k": args.serving_k, "seed": args.seed,
      **settings(args.set)})


def pipeline_config(args, data_dir: Optional[str] = None
                    ) -> configs.PipelineConfig:
  """Every flag of `run` / `compile` as one validated PipelineConfig."""
  train = train_config(args)
  data = dataclasses.replace(data_config(args, data_dir, seed=args.seed),
                             schema_path=args.schema)
  config = configs.PipelineConfig(
      data=data, train=train,
      baseline=configs.baseline_config(args.baseline, train),
      eval_k=args.eval_k, eval_users=args.eval_users or None,
      thresholds=blessing.Thresholds(
          max_regression=args.max_regression, min_tail_hr=args.min_tail_hr,
          min_tail_ndcg=args.min_tail_ndcg,
          min_index_recall=args.min_index_recall),
      keep_versions=args.keep_versions, warm_start=args.warm_start,
      infra_validation=configs.InfraValidationConfig(
          platform=args.infra_validator, image=args.infra_validator_image),
      tune=(search_space.TuneConfig(
          trials=args.tune_trials, epochs=args.tune_epochs,
          objective=args.tune_objective, seed=args.seed,
          fixed=tuple(sorted(_given(args)))) if args.tune else None),
      hyperparameters_dir=hyperparameters_dir(args.hyperparameters,
                                              _given(args)))
  config.validate()
  return config
