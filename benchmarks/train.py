"""Training cost of CDN against the two-tower backbone, side by side.

Both models train on the same prepared data with the same batch size; runs
alternate (two-tower, CDN, two-tower, CDN, ...) so that both see the same
machine load, and each run's first epoch (graph tracing) is left out.
Prints examples per second and the CDN / two-tower time per example, and
writes the figures as JSON.
"""

import argparse
import json
import os
import platform
import statistics
import time

from cdnrec.experiment import data as data_lib
from models import config as config_lib
from models import training


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
  from cdnrec import features as F
  from components import example_io
  from models import inputs
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


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench train",
                                   description=__doc__)
  parser.add_argument("--data", default="recbole")
  parser.add_argument("--data-dir", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=4,
                      help="epochs per run; the first is not timed")
  parser.add_argument("--batch-size", type=int, default=1024)
  parser.add_argument("--set", action="append", default=[],
                      metavar="NAME=VALUE", help="CDN setting, repeatable")
  args = parser.parse_args(argv)
  extra = {}
  for item in args.set:
    name, _, value = item.partition("=")
    try:
      extra[name] = json.loads(value)
    except json.JSONDecodeError:
      extra[name] = value

  prepared = data_lib.prepare(args.data_dir, args.out, 0.2,
                              data_format=args.data)
  from components.item_stats import executor as item_stats_executor
  n = item_stats_executor.load_summary(
      prepared.item_stats_uri).n_train_interactions
  examples_per_epoch = (n // args.batch_size) * args.batch_size
  seconds = {"two_tower": [], "cdn": []}
  for r in range(args.rounds):
    for model in ("two_tower", "cdn"):
      started = time.perf_counter()
      seconds[model] += _run(prepared, model, args.epochs, args.batch_size,
                             r, extra if model == "cdn" else {})
      print(f"round {r + 1}/{args.rounds} {model}: "
            f"{time.perf_counter() - started:.1f}s", flush=True)
  result = {"machine": f"{platform.node()} {os.cpu_count()} cores",
            "batch_size": args.batch_size,
            "examples_per_epoch": examples_per_epoch, "cdn_settings": extra}
  for model, values in seconds.items():
    median = statistics.median(values)
    result[model] = {"epoch_seconds": values, "median_epoch_seconds": median,
                     "examples_per_second": examples_per_epoch / median}
  result["cdn_over_two_tower_time_per_example"] = (
      result["cdn"]["median_epoch_seconds"] /
      result["two_tower"]["median_epoch_seconds"])
  steps = n // args.batch_size
  inputs_only = _input_seconds(prepared, args.batch_size, steps, args.rounds)
  for model, values in inputs_only.items():
    result[model]["median_input_pipeline_seconds_per_epoch"] = (
        statistics.median(values))
  print(f"\n{'model':<10} {'median s/epoch':>15} {'examples/s':>12} "
        f"{'input pipeline alone, s/epoch':>31}")
  for model in ("two_tower", "cdn"):
    print(f"{model:<10} {result[model]['median_epoch_seconds']:>15.3f} "
          f"{result[model]['examples_per_second']:>12.0f} "
          f"{result[model]['median_input_pipeline_seconds_per_epoch']:>31.3f}")
  print(f"CDN / two-tower time per example: "
        f"{result['cdn_over_two_tower_time_per_example']:.3f} "
        f"(Ω_m examples; CDN also reads an Ω_r batch per step)")
  path = os.path.join(args.out, "train.json")
  with open(path, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {path}")
  return 0
