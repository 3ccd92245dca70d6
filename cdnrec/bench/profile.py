"""Where a training step's time goes: the two-tower and CDN configurations
each trained for a few epochs under the TensorFlow profiler, the self time
of every TF op summed by op type and divided by the steps.

The profiler slows every op down, so the figures are for comparing models
and op types, not for absolute cost (`cdnrec bench train` measures that).
The first epoch (tracing, the first read of the data) is profiled too, for
every model alike. Prints a table (ms per step, op types by their largest
difference from the two-tower) and writes profile.json; the raw traces
stay under --out for TensorBoard's profile plugin.
"""

import argparse
import collections
import glob
import json
import os
from typing import Dict

from cdnrec.bench import train as train_bench
from cdnrec.experiment import data as data_lib


def op_milliseconds(logdir: str) -> Dict[str, float]:
  """{op type: summed self time in ms} of the TF ops in a profile.

  TF op events on the executor threads are named "scope/name:OpType";
  the executor's own events ("ExecutorState::Process") enclose ops and
  are left out.
  """
  from tensorflow.tsl.profiler.protobuf import xplane_pb2
  paths = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*",
                                        "*.xplane.pb")))
  if not paths:
    raise FileNotFoundError(f"no profile written under {logdir}")
  space = xplane_pb2.XSpace()
  with open(paths[-1], "rb") as f:
    space.ParseFromString(f.read())
  totals: Dict[str, float] = collections.Counter()
  for plane in space.planes:
    names = {key: meta.name for key, meta in plane.event_metadata.items()}
    for line in plane.lines:
      if not line.name.startswith("tf_Compute"):
        continue
      for event in line.events:
        name = names.get(event.metadata_id, "")
        if ":" in name and "::" not in name:
          totals[name.rsplit(":", 1)[1]] += event.duration_ps / 1e9
  return dict(totals)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench profile",
                                   description=__doc__)
  train_bench.add_model_arguments(parser)
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--top", type=int, default=15,
                      help="op types to print")
  args = parser.parse_args(argv)
  import tensorflow as tf
  from cdnrec.core import item_stats
  from cdnrec.data import readers
  from cdnrec.models import config as config_lib
  from cdnrec.models import training
  models = train_bench.models_to_time(args.set, args.variant)
  prepared = data_lib.prepare(args.data_dir, args.out,
                              readers.head_fraction(args.data),
                              data_format=args.data)
  n = item_stats.load_summary(
      prepared.item_stats_uri).n_train_interactions
  steps = (n // args.batch_size) * args.epochs
  per_step = {}
  for name, settings in models.items():
    config = config_lib.TrainConfig.from_dict(
        {**settings, "epochs": args.epochs, "batch_size": args.batch_size})
    logdir = os.path.join(args.out, "profile", name)
    tf.profiler.experimental.start(logdir)
    try:
      training.fit(prepared.training_inputs(), config, verbose=0)
    finally:
      tf.profiler.experimental.stop()
    per_step[name] = {op: ms / steps
                      for op, ms in op_milliseconds(logdir).items()}
    print(f"profiled {name}", flush=True)
  base = per_step["two_tower"]
  ops = sorted({op for values in per_step.values() for op in values},
               key=lambda op: -max(abs(v.get(op, 0.0) - base.get(op, 0.0))
                                   for v in per_step.values()))
  print(f"\nms of op time per step under the profiler ({steps} steps)")
  print(f"{'op type':<40}" + "".join(f"{name:>14}" for name in per_step))
  for op in ops[:args.top]:
    print(f"{op[:40]:<40}" + "".join(
        f"{values.get(op, 0.0):>14.2f}" for values in per_step.values()))
  print(f"{'all ops':<40}" + "".join(
      f"{sum(values.values()):>14.2f}" for values in per_step.values()))
  path = os.path.join(args.out, "profile.json")
  with open(path, "w") as f:
    json.dump({"steps": steps, "settings": models,
               "ms_per_step": per_step}, f, indent=2)
  print(f"wrote {path}")
  return 0
