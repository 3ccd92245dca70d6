"""Pipeline: wall time of the whole local pipeline, component by component,
on the embedded default (generated data) and on a dataset folder.

Each case runs `cdnrec run --no-cache` in a fresh process (so every
component executes, TFX import included in the total) with its default
settings, and reads the component timings the run prints. A run whose model
is not blessed still counts: the timings are the same work. Prints a table
and writes pipeline.json.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from typing import Dict, List

_FINISHED = re.compile(r"^\[cdnrec\] < (\S+) finished in ([0-9.]+)s$", re.M)


def _run(name: str, command: List[str]) -> Dict:
  started = time.perf_counter()
  result = subprocess.run(
      [sys.executable, "-m", "cdnrec.cli", *command], capture_output=True,
      text=True, check=False,
      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  seconds = time.perf_counter() - started
  if result.returncode not in (0, 1):
    raise RuntimeError(f"{name}: cdnrec run failed:\n"
                       f"{result.stderr[-3000:]}")
  components = {m.group(1): float(m.group(2))
                for m in _FINISHED.finditer(result.stdout)}
  pushed = re.search(r"model pushed to (\S+)", result.stdout)
  return {"case": name, "command": "cdnrec " + " ".join(command),
          "total_seconds": seconds, "components": components,
          "pushed": bool(pushed)}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench pipeline",
                                   description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--out", required=True)
  parser.add_argument("--data-dir", default="../shared/data/ml-100k",
                      help="a RecBole-layout dataset ('' to skip)")
  parser.add_argument("--data", default="recbole")
  args = parser.parse_args(argv)
  cases = [("embedded default", ["run", "--no-cache", "--output",
                                 os.path.join(args.out, "default")])]
  if args.data_dir:
    cases.append((os.path.basename(os.path.normpath(args.data_dir)),
                   ["run", "--no-cache", "--data", args.data, "--data-dir",
                    args.data_dir, "--output",
                    os.path.join(args.out, "dataset")]))
  results = []
  for name, command in cases:
    results.append(_run(name, command))
    print(f"{name}: {results[-1]['total_seconds']:.0f}s", flush=True)
  names = list(dict.fromkeys(c for r in results for c in r["components"]))
  print(f"\nseconds per component, {platform.node()} ({os.cpu_count()} "
        f"cores)")
  print(f"{'component':<24}" + "".join(f"{r['case']:>18}" for r in results))
  for component in names:
    print(f"{component:<24}" + "".join(
        f"{r['components'].get(component, float('nan')):>18.1f}"
        for r in results))
  print(f"{'whole run (wall)':<24}" +
        "".join(f"{r['total_seconds']:>18.1f}" for r in results))
  path = os.path.join(args.out, "pipeline.json")
  os.makedirs(args.out, exist_ok=True)
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "results": results}, f, indent=2)
  print(f"wrote {path}")
  return 0
