"""Beam: the data components (ExampleGen, then ItemStatsGen on its output)
on a generated log, under the DirectRunner in-memory and multi-process.

The input is the embedded generator's RecBole files (by default one user
per 40 interactions and one item per 20, the shape of `bench scale`). Each component runs in its own process
through `components/local.py`, the executors the pipeline runs; its wall
time, interactions per second (interactions of the log for ExampleGen, of
the train split for ItemStatsGen) and the peak resident memory of its
process tree (Beam's workers included, sampled every 0.2 s) are reported.

`--layout table-csv` (or `table-parquet`) gives ExampleGen the same log as
one CSV (Parquet) table of user, item and time, read with `--data table`
(no side files: the ids only), to measure a user's own log rather than
RecBole files.

`--code-dir PATH` runs the components of another checkout of this
repository (e.g. a `git worktree` of an older commit) on the same input, so
two versions are measured side by side on one machine, one after the other.
Prints a table and writes beam.json.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

from cdnrec.bench import scale

RUNNERS = {
    "in_memory": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    "multi_processing": ["--direct_running_mode=multi_processing",
                         "--direct_num_workers=2"],
}

# Run with the checkout under test first on sys.path; uses only local.py
# functions that older versions have too (docs/benchmarks.md names them).
_JOB = """
import json, sys
import cdnrec
from cdnrec.components import local
component, data_dir, out, beam_args, data_format, config = sys.argv[1:7]
outputs = local.DataArtifacts(out)
if component == "ExampleGen":
  local.run_example_gen(outputs, data_dir, beam_args=json.loads(beam_args),
                        data_format=data_format,
                        reader_config=json.loads(config))
else:
  local.run_item_stats(outputs, head_fraction=0.2, seed=0,
                       beam_args=json.loads(beam_args))
  print(open(outputs.uri("item_stats") + "/summary.json").read())
"""


def generate(directory: str, n: int, per_user: int, per_item: int) -> str:
  """The embedded generator's files for n interactions (reused)."""
  from cdnrec.data import synthetic
  data_dir = os.path.join(directory, f"data-u{per_user}-i{per_item}")
  if not os.path.exists(os.path.join(data_dir, "synthetic.inter")):
    synthetic.generate(synthetic.SyntheticConfig(
        n_users=max(3000, n // per_user), n_items=max(2000, n // per_item),
        n_interactions=n, seed=0), data_dir)
  return data_dir


LAYOUTS = ("recbole", "table-csv", "table-parquet")
_TABLE_CONFIG = {"user_id": "user_id", "item_id": "item_id",
                 "timestamp": "timestamp"}


def as_layout(data_dir: str, layout: str) -> Tuple[str, str, Dict]:
  """(data dir, --data, reader config) of the generated log in a layout;
  a table is written once, next to the RecBole files."""
  if layout == "recbole":
    return data_dir, "recbole", {}
  import pyarrow.csv as pacsv
  import pyarrow.parquet as pq
  from cdnrec.core import atomic
  name = "log.csv" if layout == "table-csv" else "log.parquet"
  out_dir = f"{data_dir}-{layout}"
  path = os.path.join(out_dir, name)
  if not os.path.exists(path):
    os.makedirs(out_dir, exist_ok=True)
    dataset = atomic.locate(data_dir)
    table = pacsv.read_csv(
        dataset.inter_path,
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=[
            f.name for f in dataset.inter_fields]),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
        convert_options=pacsv.ConvertOptions(include_columns=[
            "user_id", "item_id", "timestamp"]))
    staging = path + ".partial"
    if layout == "table-csv":
      pacsv.write_csv(table, staging)
    else:
      pq.write_table(table, staging, row_group_size=1 << 20)
    os.replace(staging, path)
  return out_dir, "table", {**_TABLE_CONFIG, "interactions": name}


def _run(component: str, data_dir: str, out: str, beam_args: List[str],
         code_dir: Optional[str], data_format: str = "recbole",
         config: Optional[Dict] = None) -> Dict:
  import psutil
  env = dict(os.environ)
  if code_dir:
    env["PYTHONPATH"] = os.path.abspath(code_dir) + os.pathsep + env.get(
        "PYTHONPATH", "")
  started = time.perf_counter()
  process = subprocess.Popen(
      [sys.executable, "-c", _JOB, component, data_dir, out,
       json.dumps(beam_args), data_format, json.dumps(config or {})], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True, env=env, cwd=os.path.abspath(code_dir or "."))
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
    raise RuntimeError(f"{component} failed (exit {process.returncode}, "
                       f"peak {peak / 1e9:.2f} GB):\n{stderr[-3000:]}")
  out_info = {"seconds": seconds, "peak_rss_gb": peak / 1e9}
  if component == "ItemStatsGen":
    summary = json.loads(stdout[stdout.index("{"):])
    out_info.update(train=summary["n_train_interactions"],
                    rebalanced_size=summary["rebalanced_size"])
  return out_info


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench beam",
                                   description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--out", required=True)
  parser.add_argument("--sizes", default="1M,5M")
  parser.add_argument("--runners", default="in_memory,multi_processing")
  parser.add_argument("--interactions-per-user", type=int, default=40)
  parser.add_argument("--interactions-per-item", type=int, default=20)
  parser.add_argument("--layout", choices=LAYOUTS, default="recbole",
                      help="the log's layout for ExampleGen")
  parser.add_argument("--code-dir", action="append", default=None,
                      help="a checkout whose components to measure "
                           "(repeatable; default: this one)")
  args = parser.parse_args(argv)
  # Each job runs in its checkout's folder: relative paths would point
  # into it.
  args.out = os.path.abspath(args.out)
  versions = [os.path.abspath(d) for d in args.code_dir] if args.code_dir \
      else [None]
  results = []
  for n in (scale.parse_size(s) for s in args.sizes.split(",")):
    started = time.perf_counter()
    data_dir = generate(os.path.join(args.out, f"n{n}"), n,
                        args.interactions_per_user, args.interactions_per_item)
    data_dir, data_format, config = as_layout(data_dir, args.layout)
    print(f"{n} interactions ready ({time.perf_counter() - started:.0f}s)",
          flush=True)
    for version in versions:
      label = version or "this checkout"
      for runner in args.runners.split(","):
        out = os.path.join(args.out, f"n{n}", f"{runner}_{len(results)}")
        row = {"interactions": n, "runner": runner, "code": label,
               "layout": args.layout}
        try:
          for component in ("ExampleGen", "ItemStatsGen"):
            row[component] = _run(component, data_dir, out, RUNNERS[runner],
                                  version, data_format, config)
            print(f"  {label} {runner} {component}: "
                  f"{row[component]['seconds']:.0f}s, peak "
                  f"{row[component]['peak_rss_gb']:.2f} GB", flush=True)
        except RuntimeError as e:
          # A failed run (e.g. killed for memory) is a result too.
          print(f"  {label} {runner}: FAILED\n{e}", flush=True)
          row["error"] = str(e)[-500:]
        results.append(row)
  print(f"\nExampleGen (n = log interactions) and ItemStatsGen (n = train "
        f"interactions), {platform.node()} ({os.cpu_count()} cores)")
  print(f"{'interactions':>12} {'runner':>17} {'component':>13} {'seconds':>8} "
        f"{'n/s':>9} {'peak GB':>8}  code")
  for r in results:
    if "error" in r:
      print(f"{r['interactions']:>12} {r['runner']:>17}   failed  {r['code']}")
      continue
    for component in ("ExampleGen", "ItemStatsGen"):
      m = r[component]
      n = m.get("train", r["interactions"])
      print(f"{r['interactions']:>12} {r['runner']:>17} {component:>13} "
            f"{m['seconds']:>8.0f} {n / m['seconds']:>9.0f} "
            f"{m['peak_rss_gb']:>8.2f}  {r['code']}")
  path = os.path.join(args.out, "beam.json")
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "results": results}, f, indent=2)
  print(f"wrote {path}")
  return 0
