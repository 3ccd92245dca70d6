"""Training cost of CDN against the two-tower backbone, side by side.

Both models train on the same prepared data with the same batch size; runs
alternate (two-tower, CDN, two-tower, CDN, ...) so that both see the same
machine load, and each run's first epoch (graph tracing) is left out.
Prints examples per second and the CDN / two-tower time per example (per
Ω_m example: an epoch is a pass over Ω_m for both), and writes the figures
as JSON. `--variant` times several CDN configurations in the same run.
"""

import argparse
import json
import os
import platform
import statistics
import time

from cdnrec.experiment import data as data_lib
from cdnrec.models import config as config_lib
from cdnrec.models import training


def _run(prepared, model: str, epochs: int, batch_size: int, seed: int,
         extra):
  config = config_lib.TrainConfig.from_dict(
      {"model": model, "epochs": epochs, "batch_size": batch_size,
       "seed": seed, **extra})
  trained = training.fit(prepared.training_inputs(), config, verbose=0)
  return trained.epoch_seconds[1:]


def _input_seconds(prepared, batch_size: int, steps: int, rounds: int):
  """Seconds per epoch of the input pipelines alone: Ω_m (both models)
  and Ω_m zipped with Ω_r (CDN), no model."""
  import tensorflow as tf
  from cdnrec.core import features as F
  from cdnrec.core import example_io
  from cdnrec.models import inputs
  data = prepared.training_inputs()
  with open(os.path.join(data.item_catalog_uri, "features.json")) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  spec = inputs.parse_spec(
      feature_config.user_features + feature_config.item_features, {},
      with_ids=[F.USER_ID, F.ITEM_ID])
  stream = lambda files, seed: inputs.examples_dataset(
      files, spec, batch_size, shuffle=True, seed=seed, repeat=True,
      cache=True)
  main = stream(data.train_files, 0)
  both = tf.data.Dataset.zip((main, stream(
      [example_io.split_pattern(data.rebalanced_uri, "train")], 1)))
  out = {"two_tower": [], "cdn": []}
  for _ in range(rounds):
    for name, dataset in (("two_tower", main), ("cdn", both)):
      iterator = iter(dataset)
      for _ in range(steps):  # fills the shuffle buffer
        next(iterator)
      started = time.perf_counter()
      for _ in range(steps):
        next(iterator)
      out[name].append(time.perf_counter() - started)
  return out


def _variants(base, specs):
  """{name: CDN settings}: "cdn" (the --set settings) unless --variant
  names others, each on top of --set."""
  if not specs:
    return {"cdn": dict(base)}
  out = {}
  for spec in specs:
    name, sep, settings = spec.partition("=")
    try:
      extra = json.loads(settings) if sep else None
    except json.JSONDecodeError as e:
      raise SystemExit(f"error: --variant {spec!r}: settings must be a JSON "
                       f"object ({e})") from e
    if not name or not isinstance(extra, dict) or name == "two_tower":
      raise SystemExit(f"error: --variant {spec!r} must look like "
                       f"NAME={{\"setting\": value, ...}}, NAME not "
                       f"two_tower")
    out[name] = {**base, **extra}
  return out


def models_to_time(settings, variant_specs):
  """{name: TrainConfig values}: the two-tower and each CDN variant, all
  with the --set settings (NAME=VALUE, VALUE read as JSON when it is)."""
  extra = {}
  for item in settings:
    name, _, value = item.partition("=")
    try:
      extra[name] = json.loads(value)
    except json.JSONDecodeError:
      extra[name] = value
  return {"two_tower": {**extra, "model": "two_tower"},
          **{name: {"model": "cdn", **values}
             for name, values in _variants(extra, variant_specs).items()}}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
  """The data and the models to train: flags shared by `bench train` and
  `bench profile`."""
  parser.add_argument("--data", default="recbole")
  parser.add_argument("--data-dir", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--batch-size", type=int, default=1024)
  parser.add_argument("--set", action="append", default=[],
                      metavar="NAME=VALUE",
                      help="a setting of every model, repeatable")
  parser.add_argument(
      "--variant", action="append", default=[], metavar="NAME=JSON",
      help='a CDN configuration beside the two-tower, e.g. '
           '\'drawn={"regularizer_batch": "drawn"}\' (Algorithm 1\'s '
           'Ω_r batch; or another model\'s, with "model"); repeatable '
           '(default: one, "cdn")')


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench train",
                                   description=__doc__)
  add_model_arguments(parser)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=4,
                      help="epochs per run; the first is not timed")
  args = parser.parse_args(argv)
  models = models_to_time(args.set, args.variant)
  variants = [name for name in models if name != "two_tower"]

  from cdnrec.core import item_stats
  from cdnrec.data import readers
  prepared = data_lib.prepare(args.data_dir, args.out,
                              readers.head_fraction(args.data),
                              data_format=args.data)
  n = item_stats.load_summary(
      prepared.item_stats_uri).n_train_interactions
  examples_per_epoch = (n // args.batch_size) * args.batch_size
  seconds = {name: [] for name in models}
  for r in range(args.rounds):
    for name, settings in models.items():
      started = time.perf_counter()
      seconds[name] += _run(prepared, settings["model"], args.epochs,
                            args.batch_size, r,
                            {k: v for k, v in settings.items()
                             if k != "model"})
      print(f"round {r + 1}/{args.rounds} {name}: "
            f"{time.perf_counter() - started:.1f}s", flush=True)
  result = {"machine": f"{platform.node()} {os.cpu_count()} cores",
            "batch_size": args.batch_size,
            "examples_per_epoch": examples_per_epoch,
            "settings": models}
  for name, values in seconds.items():
    median = statistics.median(values)
    result[name] = {"epoch_seconds": values, "median_epoch_seconds": median,
                    "examples_per_second": examples_per_epoch / median}
  for name in variants:
    result[name]["over_two_tower_time_per_example"] = (
        result[name]["median_epoch_seconds"] /
        result["two_tower"]["median_epoch_seconds"])
  steps = n // args.batch_size
  inputs_only = _input_seconds(prepared, args.batch_size, steps, args.rounds)
  result["input_pipeline_seconds_per_epoch"] = {
      "omega_m": statistics.median(inputs_only["two_tower"]),
      "omega_m_and_omega_r": statistics.median(inputs_only["cdn"])}
  print(f"\n{'model':<16} {'median s/epoch':>15} {'Ω_m examples/s':>15} "
        f"{'/ two-tower':>12}")
  for name in models:
    ratio = result[name].get("over_two_tower_time_per_example", 1.0)
    print(f"{name:<16} {result[name]['median_epoch_seconds']:>15.3f} "
          f"{result[name]['examples_per_second']:>15.0f} {ratio:>11.3f}x")
  print("input pipeline alone, s/epoch: Ω_m "
        f"{result['input_pipeline_seconds_per_epoch']['omega_m']:.3f}, "
        "Ω_m + an Ω_r batch per step "
        f"{result['input_pipeline_seconds_per_epoch']['omega_m_and_omega_r']:.3f}")
  path = os.path.join(args.out, "train.json")
  with open(path, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {path}")
  return 0
