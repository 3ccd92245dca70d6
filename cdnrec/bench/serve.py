"""Serving under load: `cdnrec serve` in its own process, answering
concurrent clients.

For each server mode (--modes: batching off, on), at each level of
concurrency (--clients, default 1, 8, 16, 32), that many
client threads each send --requests predict requests (one user per
request, signature serve_features, k = 10), each on a new connection as
`cdnrec query --server` makes them. Reported per level: queries per
second (all requests over the level's wall time), latency p50 / p99 and
failed requests (any exception or non-200 answer). Clients and server
share this machine's cores. Prints a table and writes serve.json.

--model-dir is a pushed model folder, e.g. runs/demo/serving/cdnrec after
`make demo`. `--code-dir PATH` runs the server of another checkout (e.g. a
`git worktree` of an older commit), to compare two versions one after the
other on one machine.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_server(model_dir: str, port: int, code_dir: Optional[str],
                  server_args: List[str]) -> subprocess.Popen:
  from cdnrec.serving import client
  env = dict(os.environ)
  if code_dir:
    env["PYTHONPATH"] = code_dir + os.pathsep + env.get("PYTHONPATH", "")
  process = subprocess.Popen(
      [sys.executable, "-m", "cdnrec.cli", "serve", "--model-dir",
       os.path.abspath(model_dir), "--port", str(port)] + server_args,
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
      cwd=code_dir or None)
  url = f"http://127.0.0.1:{port}"
  deadline = time.time() + 300
  name = os.path.basename(os.path.normpath(model_dir))
  while time.time() < deadline:
    if process.poll() is not None:
      raise RuntimeError(f"cdnrec serve exited {process.returncode}: "
                         f"{process.stderr.read()[-2000:]}")
    try:
      client.status(url, name)
      return process
    except client.ServerError:
      time.sleep(0.5)
  process.kill()
  raise RuntimeError("cdnrec serve did not answer within 300 s")


def _level(url: str, name: str, clients: int, requests: int) -> Dict:
  from cdnrec.serving import client

  def one_client(seed: int):
    latencies, errors = [], []
    for i in range(requests):
      user = {"user_id": f"u{(seed * requests + i) % 5000}"}
      started = time.perf_counter()
      try:
        answer = client.predict(url, name, [user], k=10)
        if len(answer[0]["item_ids"]) != 10:
          raise ValueError(f"{len(answer[0]['item_ids'])} items, not 10")
      except Exception as e:  # pylint: disable=broad-except
        errors.append(repr(e)[:200])  # a failed request is a result
      latencies.append(time.perf_counter() - started)
    return latencies, errors

  started = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    results = list(pool.map(one_client, range(clients)))
  wall = time.perf_counter() - started
  latencies = np.array([x for r in results for x in r[0]]) * 1000
  errors = [e for r in results for e in r[1]]
  p50, p99 = np.percentile(latencies, [50, 99])
  return {"clients": clients, "requests": len(latencies),
          "queries_per_second": len(latencies) / wall, "p50_ms": float(p50),
          "p99_ms": float(p99), "failed": len(errors),
          "first_errors": errors[:3]}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="cdnrec bench serve", description=__doc__,
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--model-dir", required=True)
  parser.add_argument("--clients", default="1,8,16,32")
  parser.add_argument("--requests", type=int, default=1000,
                      help="requests per client at each level")
  parser.add_argument("--out", default="runs/bench/serve")
  parser.add_argument("--modes", default="off,on",
                      help="server-side batching off and/or on (the "
                           "server's defaults: --max-batch-size 32, "
                           "--batch-timeout-micros 2000)")
  parser.add_argument("--code-dir", default=None,
                      help="a checkout whose server to measure (default: "
                           "this one)")
  args = parser.parse_args(argv)
  name = os.path.basename(os.path.normpath(args.model_dir))
  code_dir = os.path.abspath(args.code_dir) if args.code_dir else None
  rows: List[Dict] = []
  for mode in args.modes.split(","):
    port = _free_port()
    server = _start_server(args.model_dir, port, code_dir,
                           ["--batching"] if mode == "on" else [])
    url = f"http://127.0.0.1:{port}"
    try:
      _level(url, name, 2, 20)  # warm-up, not reported
      for clients in (int(c) for c in args.clients.split(",")):
        row = {"batching": mode, **_level(url, name, clients, args.requests)}
        rows.append(row)
        print(f"  batching {mode}, {clients} clients: "
              f"{row['queries_per_second']:.0f} q/s, p50 {row['p50_ms']:.1f} "
              f"ms, p99 {row['p99_ms']:.1f} ms, {row['failed']} failed",
              flush=True)
    finally:
      server.send_signal(signal.SIGINT)
      try:
        server.wait(timeout=30)
      except subprocess.TimeoutExpired:
        server.kill()
  print(f"\ncdnrec serve of {code_dir or 'this checkout'}, REST, "
        f"{args.requests} requests per client, {platform.node()} "
        f"({os.cpu_count()} cores)")
  print(f"{'batching':>8} {'clients':>8} {'requests':>9} {'q/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
  for r in rows:
    print(f"{r['batching']:>8} {r['clients']:>8} {r['requests']:>9} "
          f"{r['queries_per_second']:>8.0f} {r['p50_ms']:>8.1f} "
          f"{r['p99_ms']:>8.1f} {r['failed']:>7}")
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "serve.json")
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "model_dir": os.path.abspath(args.model_dir),
               "code": code_dir or "this checkout",
               "levels": rows}, f, indent=2)
  print(f"wrote {path}")
  return 0 if all(r["failed"] == 0 for r in rows) else 1
