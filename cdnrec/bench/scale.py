"""Scale: the whole pipeline (`cdnrec run`) on generated logs of growing
size, and how each component's cost grows.

Each size runs `cdnrec run --no-cache` in a fresh process with one user per
40 interactions and one item per 20 (20M interactions: 500K users, 1M
items), one epoch and no baseline. The process tree's resident memory
(Beam workers included) is sampled every 0.2 s and charged to the component
running at that moment. For each component: wall seconds, interactions per
second and peak memory at every size, and the exponent b of seconds ~ n^b
fitted on a log-log scale over the sizes (1 = linear). Prints a table and
writes scale.json; each size's full output, every line stamped with the
seconds since its start, is in n<size>/run.log.
"""

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
from typing import Dict, List

import numpy as np

_STARTED = re.compile(r"^\[cdnrec\] > (\S+) started$")
_FINISHED = re.compile(r"^\[cdnrec\] < (\S+) finished in ([0-9.]+)s$")
GENERATE = "generate data"
QUERY = "query (fresh process)"


def parse_size(text: str) -> int:
  """'20M' -> 20000000, '500K' -> 500000, '1500' -> 1500."""
  text = text.strip().upper()
  factor = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
  number = text[:-1] if factor > 1 else text
  try:
    return int(float(number) * factor)
  except ValueError:
    raise ValueError(f"--sizes: {text!r} is not a size like 5M or 500K") \
        from None


RUN_LOG = "run.log"


def command(n: int, out: str, extra: List[str]) -> List[str]:
  return ["run", "--no-cache", "--users", str(max(3000, n // 40)),
          "--items", str(max(2000, n // 20)), "--interactions", str(n),
          "--epochs", "1", "--baseline", "none", "--output", out, *extra]


def _run(n: int, out: str, extra: List[str]) -> Dict:
  import psutil
  argv = command(n, out, extra)
  started = time.perf_counter()
  process = subprocess.Popen(
      [sys.executable, "-m", "cdnrec.cli", *argv], stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True)
  current = [GENERATE]
  seconds: Dict[str, float] = {}
  peaks: Dict[str, float] = {}
  tail: List[str] = []
  marks = {"last": started}

  os.makedirs(out, exist_ok=True)

  def read():
    for line in process.stdout:
      # Every line, stamped, so that the time between a component's log
      # lines (a pass over the data, an export) can be read afterwards.
      log.write(f"{time.perf_counter() - started:9.1f}s {line}")
      log.flush()
      line = line.rstrip("\n")
      tail.append(line)
      del tail[:-200]
      if m := _STARTED.match(line):
        if current[0] == GENERATE:
          seconds[GENERATE] = time.perf_counter() - started
        current[0] = m.group(1)
      elif m := _FINISHED.match(line):
        seconds[m.group(1)] = float(m.group(2))
        current[0] = "between components"
        marks["last"] = time.perf_counter()
      elif line.startswith("[cdnrec] sample query"):
        current[0] = QUERY
        marks["query"] = time.perf_counter()

  with open(os.path.join(out, RUN_LOG), "w") as log:
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    root = psutil.Process(process.pid)
    while process.poll() is None:
      try:
        rss = sum(p.memory_info().rss for p in
                  [root] + root.children(recursive=True) if p.is_running())
        peaks[current[0]] = max(peaks.get(current[0], 0.0), rss / 1e9)
      except psutil.Error:
        pass  # a worker ended between listing and reading: next sample
      time.sleep(0.2)
    reader.join()
  total = time.perf_counter() - started
  if "query" in marks:
    seconds[QUERY] = time.perf_counter() - marks["query"]
  # 0: pushed and the query answered; 1: not blessed (the same work).
  if process.returncode not in (0, 1):
    raise RuntimeError(f"cdnrec {' '.join(argv)} exited "
                       f"{process.returncode}:\n" + "\n".join(tail[-40:]))
  return {"interactions": n, "command": "cdnrec " + " ".join(argv),
          "total_seconds": total, "seconds": seconds,
          "peak_gb": peaks, "peak_gb_total": max(peaks.values(), default=0.0),
          "pushed_and_answered": process.returncode == 0,
          "output_tail": tail[-30:]}


def exponent(sizes: List[int], seconds: List[float]) -> float:
  """Least-squares slope of log(seconds) on log(size)."""
  if len(sizes) < 2 or min(seconds) <= 0:
    return float("nan")
  return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="cdnrec bench scale", description=__doc__,
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--out", required=True)
  parser.add_argument("--sizes", default="1M,5M,20M",
                      help="interaction counts, e.g. 1M,5M,20M")
  parser.add_argument("--run-arg", action="append", default=[],
                      help="extra `cdnrec run` flag, repeatable (e.g. "
                           "--run-arg=--beam-arg=--direct_num_workers=2)")
  args = parser.parse_args(argv)
  sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
  results = []
  os.makedirs(args.out, exist_ok=True)
  for n in sizes:
    results.append(_run(n, os.path.join(args.out, f"n{n}"), args.run_arg))
    r = results[-1]
    # Written after every size, so a later failure loses nothing measured.
    with open(os.path.join(args.out, "scale.json"), "w") as f:
      json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
                 "results": results}, f, indent=2)
    print(f"{n} interactions: {r['total_seconds']:.0f}s, peak "
          f"{r['peak_gb_total']:.2f} GB", flush=True)
  names = list(dict.fromkeys(
      c for r in results for c in r["seconds"]))
  print(f"\nwall seconds, interactions/s and peak GB per component, "
        f"{platform.node()} ({os.cpu_count()} cores)")
  header = f"{'component':<28}" + "".join(
      f"{n:>14,d} n/s  GB" for n in sizes) + "  exponent"
  print(header)
  for name in names + ["whole run"]:
    cells, secs = [], []
    for r in results:
      s = (r["total_seconds"] if name == "whole run"
           else r["seconds"].get(name, math.nan))
      gb = (r["peak_gb_total"] if name == "whole run"
            else r["peak_gb"].get(name, math.nan))
      secs.append(s)
      rate = r["interactions"] / s if s > 0 else math.nan
      cells.append(f"{s:>8.1f}s {rate:>9,.0f} {gb:>5.1f}")
    print(f"{name:<28}" + "".join(f"{c:>24}" for c in cells) +
          f"  {exponent(sizes, secs):>8.2f}")
  path = os.path.join(args.out, "scale.json")
  os.makedirs(args.out, exist_ok=True)
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "results": results,
               "exponents": {name: exponent(sizes, [
                   r["seconds"].get(name, math.nan) for r in results])
                             for name in names}}, f, indent=2)
  print(f"wrote {path}")
  return 0
