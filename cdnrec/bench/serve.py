"""Serving under load: `cdnrec serve` in its own process, answering
concurrent clients over REST and gRPC, batching off and on; and the first
request of a fresh server with and without its warm-up records.

Load: for each server mode (--modes: batching off, on) one server answers
both protocols (--protocols: rest, grpc). At each level of concurrency
(--clients, default 1, 8, 16, 32) that many client threads each send
--requests predict requests (one user per request, signature
serve_features, top 10). A REST client opens a new connection per request,
as `cdnrec query --server` does; a gRPC client keeps one channel, as gRPC
clients do. Reported per level: queries per second (all requests over the
level's wall time), latency p50 / p99, failed requests (any exception or
wrong answer), and the server process's CPU time per request (user +
system, all its threads): what a request costs the server, apart from the
clients' own work. Clients and server share this machine's cores.

First request (--first-request-trials, 0 to skip): a fresh server is
started with warm-up off (--no-warmup) and on, alternating, that many times
each; once it answers its status (the version is loaded, and warmed when
warm-up is on), one predict request is timed, then a second.

Prints the tables and writes serve.json. --model-dir is a pushed model
folder, e.g. runs/demo/serving/cdnrec after `make demo`. `--code-dir PATH`
runs the server of another checkout (e.g. a `git worktree` of an older
commit) to compare two versions one after the other on one machine (its
server must know the flags used: REST only and no warm-up trials for code
before gRPC and warm-up existed).
"""

import argparse
import concurrent.futures
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import psutil

_LINE = re.compile(r"on http://[^:]+:(\d+)/v1/models/\S+"
                   r"(?: and grpc://[^:]+:(\d+))?")


def _start_server(model_dir: str, code_dir: Optional[str],
                  server_args: List[str]
                  ) -> Tuple[subprocess.Popen, str, Optional[str]]:
  """(process, REST url, grpc:// address or None) of a started server
  that has answered its status."""
  from cdnrec.serving import client
  env = dict(os.environ, PYTHONUNBUFFERED="1")
  if code_dir:
    env["PYTHONPATH"] = code_dir + os.pathsep + env.get("PYTHONPATH", "")
  # The server's log goes to a file: an unread pipe could fill and block it.
  log = tempfile.NamedTemporaryFile("w+", prefix="cdnrec-serve-",
                                    suffix=".log", delete=False)
  process = subprocess.Popen(
      [sys.executable, "-m", "cdnrec.cli", "serve", "--model-dir",
       os.path.abspath(model_dir), "--port", "0"] + server_args,
      stdout=subprocess.PIPE, stderr=log, text=True, env=env,
      cwd=code_dir or None)
  line = process.stdout.readline()  # printed once the version is loaded
  found = _LINE.search(line)
  if not found:
    process.kill()
    log.seek(0)
    raise RuntimeError(f"cdnrec serve did not start: {line!r} "
                       f"{log.read()[-2000:]} (log: {log.name})")
  url = f"http://127.0.0.1:{found.group(1)}"
  target = f"grpc://127.0.0.1:{found.group(2)}" if found.group(2) else None
  client.status(url, os.path.basename(os.path.normpath(model_dir)))
  return process, url, target


def _stop_server(process: subprocess.Popen) -> None:
  process.send_signal(signal.SIGINT)
  try:
    process.wait(timeout=30)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()


def _user(seed: int, i: int, requests: int) -> Dict[str, str]:
  return {"user_id": f"u{(seed * requests + i) % 5000}"}


def _level(protocol: str, address: str, name: str, clients: int,
           requests: int, server_pid: Optional[int] = None) -> Dict:
  from cdnrec.serving import client
  from cdnrec.serving import grpc_client

  def one_client(seed: int):
    latencies, errors = [], []
    connection = (grpc_client.Client(address) if protocol == "grpc"
                  else None)
    types = connection.input_types(name) if connection else None
    for i in range(requests):
      user = _user(seed, i, requests)
      started = time.perf_counter()
      try:
        if connection:
          answer = connection.predict(name, [user], k=10, types=types)
        else:
          answer = client.predict(address, name, [user], k=10)
        if len(answer[0]["item_ids"]) != 10:
          raise ValueError(f"{len(answer[0]['item_ids'])} items, not 10")
      except Exception as e:  # pylint: disable=broad-except
        errors.append(repr(e)[:200])  # a failed request is a result
      latencies.append(time.perf_counter() - started)
    if connection:
      connection.close()
    return latencies, errors

  server = psutil.Process(server_pid) if server_pid else None
  cpu_before = sum(server.cpu_times()[:2]) if server else 0.0
  started = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    results = list(pool.map(one_client, range(clients)))
  wall = time.perf_counter() - started
  server_cpu = (sum(server.cpu_times()[:2]) - cpu_before) if server else None
  latencies = np.array([x for r in results for x in r[0]]) * 1000
  errors = [e for r in results for e in r[1]]
  p50, p99 = np.percentile(latencies, [50, 99])
  return {"protocol": protocol, "clients": clients,
          "requests": len(latencies),
          "queries_per_second": len(latencies) / wall, "p50_ms": float(p50),
          "p99_ms": float(p99), "failed": len(errors),
          "server_cpu_ms_per_request": (
              None if server_cpu is None else
              1000 * server_cpu / len(latencies)),
          "first_errors": errors[:3]}


def _first_requests(model_dir: str, code_dir: Optional[str], trials: int
                    ) -> List[Dict]:
  from cdnrec.serving import client
  name = os.path.basename(os.path.normpath(model_dir))
  rows = []
  for trial in range(trials):
    for warm in (False, True):
      started = time.perf_counter()
      process, url, _ = _start_server(model_dir, code_dir,
                                      [] if warm else ["--no-warmup"])
      ready = time.perf_counter() - started
      try:
        times = []
        for i in range(2):
          begun = time.perf_counter()
          client.predict(url, name, [_user(trial, i, 2)], k=10)
          times.append((time.perf_counter() - begun) * 1000)
      finally:
        _stop_server(process)
      rows.append({"warmup": "on" if warm else "off", "trial": trial,
                   "ready_seconds": ready, "first_ms": times[0],
                   "second_ms": times[1]})
      print(f"  warm-up {rows[-1]['warmup']}, trial {trial}: ready in "
            f"{ready:.1f} s, first request {times[0]:.1f} ms, second "
            f"{times[1]:.1f} ms", flush=True)
  return rows


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="cdnrec bench serve", description=__doc__,
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--model-dir", required=True)
  parser.add_argument("--clients", default="1,8,16,32")
  parser.add_argument("--requests", type=int, default=300,
                      help="requests per client at each level")
  parser.add_argument("--out", default="runs/bench/serve")
  parser.add_argument("--modes", default="off,on",
                      help="server-side batching off and/or on (the "
                           "server's defaults: --max-batch-size 32, "
                           "--batch-timeout-micros 2000)")
  parser.add_argument("--protocols", default="rest,grpc")
  parser.add_argument("--first-request-trials", type=int, default=3)
  parser.add_argument("--code-dir", default=None,
                      help="a checkout whose server to measure (default: "
                           "this one)")
  args = parser.parse_args(argv)
  name = os.path.basename(os.path.normpath(args.model_dir))
  code_dir = os.path.abspath(args.code_dir) if args.code_dir else None
  protocols = args.protocols.split(",")
  unknown = sorted(set(protocols) - {"rest", "grpc"})
  if unknown:
    parser.error(f"--protocols: unknown {unknown}; use rest and/or grpc")
  rows: List[Dict] = []
  for mode in [m for m in args.modes.split(",") if m]:
    server_args = (["--batching"] if mode == "on" else []) + (
        ["--grpc-port", "0"] if "grpc" in protocols else [])
    process, url, target = _start_server(args.model_dir, code_dir,
                                          server_args)
    try:
      for protocol in protocols:
        address = target if protocol == "grpc" else url
        _level(protocol, address, name, 2, 20)  # warm-up, not reported
        for clients in (int(c) for c in args.clients.split(",")):
          row = {"batching": mode, **_level(protocol, address, name, clients,
                                            args.requests, process.pid)}
          rows.append(row)
          print(f"  {protocol}, batching {mode}, {clients} clients: "
                f"{row['queries_per_second']:.0f} q/s, p50 "
                f"{row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
                f"{row['failed']} failed, server CPU "
                f"{row['server_cpu_ms_per_request']:.2f} ms/request",
                flush=True)
    finally:
      _stop_server(process)
  first = _first_requests(args.model_dir, code_dir,
                          args.first_request_trials)
  print(f"\ncdnrec serve of {code_dir or 'this checkout'}, "
        f"{args.requests} requests per client, {platform.node()} "
        f"({os.cpu_count()} cores)")
  if rows:
    print(f"{'protocol':>8} {'batching':>8} {'clients':>8} {'requests':>9} "
          f"{'q/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} "
          f"{'server CPU ms/req':>18}")
  for r in rows:
    print(f"{r['protocol']:>8} {r['batching']:>8} {r['clients']:>8} "
          f"{r['requests']:>9} {r['queries_per_second']:>8.0f} "
          f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['failed']:>7} "
          f"{r['server_cpu_ms_per_request']:>18.2f}")
  if first:
    print(f"\n{'warm-up':>8} {'ready s':>8} {'first ms':>9} {'second ms':>10}"
          "   (median of trials)")
    for warm in ("off", "on"):
      chosen = [r for r in first if r["warmup"] == warm]
      print(f"{warm:>8} "
            f"{np.median([r['ready_seconds'] for r in chosen]):>8.1f} "
            f"{np.median([r['first_ms'] for r in chosen]):>9.1f} "
            f"{np.median([r['second_ms'] for r in chosen]):>10.1f}")
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "serve.json")
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "model_dir": os.path.abspath(args.model_dir),
               "code": code_dir or "this checkout",
               "levels": rows, "first_request": first}, f, indent=2)
  print(f"wrote {path}")
  return 0 if all(r["failed"] == 0 for r in rows) else 1
