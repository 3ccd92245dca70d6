"""Beam: the item-statistics and Ω_r component (ItemStatsGen's executor) on
generated interactions, under the DirectRunner in multi-process mode and,
for comparison, in-memory.

The input is an Examples artifact written directly (not through
ExampleGen, which would dominate the time): Zipf-popular items, one
validation and one test interaction per user, a few features per example
like the real ones. Each run is a separate process; its wall time, input
elements per second, and peak resident memory of the whole process tree
(workers included, sampled every 0.2 s) are reported. Prints a table and
writes beam.json.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np

RUNNERS = {
    "multi_processing": ["--direct_running_mode=multi_processing",
                         "--direct_num_workers=2"],
    "in_memory": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
}


def generate(directory: str, n: int, seed: int = 0) -> Dict:
  """An Examples artifact (train/eval/test) and an item catalog with n
  interactions; reused when already there."""
  import tensorflow as tf
  from cdnrec.core import features as F
  from cdnrec.core import artifacts
  from cdnrec.core import example_io
  marker = os.path.join(directory, "generated.json")
  if os.path.exists(marker):
    with open(marker) as f:
      return json.load(f)
  rng = np.random.default_rng(seed)
  n_users = max(100, n // 50)
  n_items = max(100, n // 200)
  weights = 1.0 / np.arange(1, n_items + 1) ** 1.1
  items = rng.choice(n_items, size=n, p=weights / weights.sum())
  users = np.concatenate([np.arange(n_users),
                          rng.integers(0, n_users, n - n_users)])
  ages = rng.integers(18, 70, n_users)
  genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
  item_genre = rng.integers(0, len(genres), n_items)
  # The last two interactions of each user (in order) are held out.
  last = {}
  for row, user in enumerate(users):
    last.setdefault(user, []).append(row)
  split = np.zeros(n, dtype=np.int8)  # 0 train, 1 eval, 2 test
  for rows in last.values():
    if len(rows) >= 3:
      split[rows[-2]], split[rows[-1]] = 1, 2
  feature = lambda i: {
      "user_age": example_io._float(float(ages[users[i]])),  # pylint: disable=protected-access
      "item_class": example_io._bytes([genres[item_genre[items[i]]]])}  # pylint: disable=protected-access
  shards = 8
  writers = {}
  for s, name in enumerate(example_io.SPLITS):
    os.makedirs(example_io.split_dir(os.path.join(directory, "examples"),
                                     name), exist_ok=True)
    writers[s] = [tf.io.TFRecordWriter(
        os.path.join(example_io.split_dir(os.path.join(directory, "examples"),
                                          name),
                     f"{example_io.FILE_PREFIX}-{k:05d}.gz"),
        options="GZIP") for k in range(shards if s == 0 else 1)]
  for i in range(n):
    f = feature(i)
    record = example_io.interaction_example(
        f"u{users[i]}", f"i{items[i]}", float(i), int(items[i]),
        {"user_age": f["user_age"]}, {"item_class": f["item_class"]})
    group = writers[int(split[i])]
    group[i % len(group)].write(record)
  for group in writers.values():
    for w in group:
      w.close()
  catalog = os.path.join(directory, "catalog")
  os.makedirs(catalog, exist_ok=True)
  with tf.io.TFRecordWriter(os.path.join(catalog, artifacts.CATALOG_FILE),
                            options="GZIP") as w:
    for item in range(n_items):
      w.write(example_io.catalog_example(
          f"i{item}", item,
          {"item_class": example_io._bytes([genres[item_genre[item]]])}))  # pylint: disable=protected-access
  info = {"interactions": n, "users": n_users, "items": n_items,
          "train": int((split == 0).sum())}
  with open(marker, "w") as f:
    json.dump(info, f)
  del F
  return info


def _run(source: str, out: str, beam_args: List[str]) -> Dict:
  import psutil
  started = time.perf_counter()
  process = subprocess.Popen(
      [sys.executable, "-m", "cdnrec.bench.item_stats_job", source, out,
       json.dumps(beam_args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)
  root = psutil.Process(process.pid)
  peak = 0
  while process.poll() is None:
    try:
      tree = [root] + root.children(recursive=True)
      peak = max(peak, sum(p.memory_info().rss for p in tree
                           if p.is_running()))
    except psutil.Error:
      pass  # a worker ended between listing and reading: next sample
    time.sleep(0.2)
  stdout, stderr = process.communicate()
  seconds = time.perf_counter() - started
  if process.returncode != 0:
    raise RuntimeError(f"ItemStatsGen failed (exit {process.returncode}, "
                       f"peak {peak / 1e9:.2f} GB):\n{stderr[-3000:]}")
  summary = json.loads(stdout[stdout.index("{"):])
  return {"seconds": seconds, "peak_rss_gb": peak / 1e9,
          "rebalanced_size": summary["rebalanced_size"]}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench beam",
                                   description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--out", required=True)
  parser.add_argument("--sizes", default="1000000,10000000")
  parser.add_argument("--runners", default="multi_processing,in_memory")
  args = parser.parse_args(argv)
  results = []
  for n in (int(s) for s in args.sizes.split(",")):
    source = os.path.join(args.out, f"interactions_{n}")
    started = time.perf_counter()
    info = generate(source, n)
    print(f"{n} interactions ready ({time.perf_counter() - started:.0f}s)",
          flush=True)
    for runner in args.runners.split(","):
      out = os.path.join(args.out, f"run_{n}_{runner}")
      try:
        measured = _run(source, out, RUNNERS[runner])
      except RuntimeError as e:
        # A run that fails (e.g. killed for memory) is a result too: it is
        # reported in the table and the JSON, and the other runs go on.
        print(f"  {runner}: FAILED\n{e}", flush=True)
        results.append({"interactions": n, "runner": runner,
                        "error": str(e)[-500:]})
        continue
      measured.update(interactions=n, runner=runner, items=info["items"],
                      users=info["users"],
                      elements_per_second=n / measured["seconds"])
      results.append(measured)
      print(f"  {runner}: {measured['seconds']:.0f}s, "
            f"{measured['elements_per_second']:.0f} interactions/s, peak "
            f"{measured['peak_rss_gb']:.2f} GB", flush=True)
  print(f"\nItemStatsGen (frequencies, head/tail, Ω_r), {platform.node()} "
        f"({os.cpu_count()} cores)")
  print(f"{'interactions':>12} {'runner':>17} {'seconds':>8} "
        f"{'interactions/s':>15} {'peak GB':>8} {'|Ω_r|':>9}")
  for r in results:
    if "error" in r:
      print(f"{r['interactions']:>12} {r['runner']:>17}   failed (see above)")
      continue
    print(f"{r['interactions']:>12} {r['runner']:>17} {r['seconds']:>8.0f} "
          f"{r['elements_per_second']:>15.0f} {r['peak_rss_gb']:>8.2f} "
          f"{r['rebalanced_size']:>9}")
  path = os.path.join(args.out, "beam.json")
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "results": results}, f, indent=2)
  print(f"wrote {path}")
  return 0
