"""Retrieval: the exported ScaNN SavedModel against its exact brute-force
twin at 10K, 100K and 1M items of 64 dimensions.

For each corpus size, item and query vectors are drawn from a seeded
mixture of Gaussians on the unit sphere (real embeddings cluster; uniform
noise would be the hardest case for any partitioning). Both variants are
exported exactly as the Trainer exports them (RetrievalModule: a user
tower, here an embedding table holding the query vectors, and the index),
saved, and loaded back. Measured:
  - recall@K of ScaNN against brute force over the held-out queries;
  - single-query latency p50 / p99 and queries per second, one query at a
    time, TensorFlow on one thread (one core);
  - batched queries per second (batches of --batch queries);
  - the same single-query latency through `cdnrec serve` (REST on
    loopback, one client).
Prints a table and writes retrieval.json.
"""

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from typing import Dict, List

import numpy as np


def _sphere_mixture(n: int, dim: int, centers: np.ndarray,
                    rng: np.random.Generator, spread: float) -> np.ndarray:
  picks = rng.integers(0, len(centers), size=n)
  x = centers[picks] + spread * rng.standard_normal((n, dim)).astype(
      np.float32)
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _export(item_vectors: np.ndarray, query_vectors: np.ndarray, k: int,
            directory: str, brute_force: bool) -> str:
  import tensorflow as tf
  from cdnrec.core import features as F
  from cdnrec.models import export
  from cdnrec.models import inputs

  class QueryTower(tf.keras.Model):
    """user_id -> its query vector: a stand-in user tower."""

    def __init__(self):
      super().__init__()
      self.lookup = tf.keras.layers.StringLookup(
          vocabulary=[f"u{i}" for i in range(len(query_vectors))],
          mask_token=None, num_oov_indices=1)
      table = np.concatenate([np.zeros((1, query_vectors.shape[1]),
                                       np.float32), query_vectors])
      self.table = tf.keras.layers.Embedding(
          len(table), table.shape[1],
          embeddings_initializer=tf.keras.initializers.Constant(table))

    def call(self, features, training=False):
      return self.table(self.lookup(features[F.USER_ID]))

  ids = np.array([f"i{i}" for i in range(len(item_vectors))])
  index = (export.build_brute_force_index(ids, item_vectors, k)
           if brute_force else export.build_scann_index(ids, item_vectors, k))
  module = export.RetrievalModule(QueryTower(), index, [], {}, k)
  del inputs
  export.save(module, directory)
  return directory


def _single_latencies(call, users: List[str]) -> np.ndarray:
  out = []
  for user in users:
    started = time.perf_counter()
    call([user])
    out.append(time.perf_counter() - started)
  return np.array(out)


def _measure(n_items: int, args, workdir: str) -> Dict:
  import tensorflow as tf
  from cdnrec.serving import client
  from cdnrec.serving import model as serving_model
  from cdnrec.serving import holder as holder_lib
  from cdnrec.serving import server as server_lib

  rng = np.random.default_rng(args.seed)
  centers = rng.standard_normal((args.clusters, args.dim)).astype(np.float32)
  items = _sphere_mixture(n_items, args.dim, centers, rng, args.spread)
  queries = _sphere_mixture(args.queries, args.dim, centers, rng, args.spread)
  users = [f"u{i}" for i in range(args.queries)]
  result: Dict = {"items": n_items}
  loaded = {}
  for variant, brute in (("scann", False), ("brute_force", True)):
    started = time.perf_counter()
    base = os.path.join(workdir, f"{variant}_{n_items}")
    _export(items, queries, args.k, os.path.join(base, "1"), brute)
    result[f"{variant}_export_seconds"] = time.perf_counter() - started
    loaded[variant] = serving_model.RetrievalModel(base)

  def call(model):
    fn = model.signatures["serve_features"]
    return lambda batch: fn(user_id=tf.constant(batch))["item_ids"]

  found = {v: np.concatenate([call(m)(users[i:i + 500]).numpy()
                              for i in range(0, len(users), 500)])
           for v, m in loaded.items()}
  hits = sum(len(set(a) & set(b))
             for a, b in zip(found["scann"], found["brute_force"]))
  result["recall_at_k"] = hits / found["brute_force"].size

  for variant, model in loaded.items():
    single_users = users[:args.single_queries]
    call(model)(single_users[:5])  # warm-up
    latencies = _single_latencies(call(model), single_users)
    batches = [users[i:i + args.batch]
               for i in range(0, len(users), args.batch)]
    started = time.perf_counter()
    for batch in batches:
      call(model)(batch)
    batched = len(users) / (time.perf_counter() - started)
    result[variant] = {
        "single_qps": len(latencies) / latencies.sum(),
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "batched_qps": batched}

  # Through the REST server: the ScaNN variant, one client on loopback.
  holder = holder_lib.ModelHolder(os.path.join(workdir, f"scann_{n_items}"))
  server = server_lib.RetrievalServer(holder, "bench", "127.0.0.1", 0,
                                      poll_seconds=0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  url = f"http://127.0.0.1:{server.server_address[1]}"
  try:
    rest = lambda batch: client.predict(url, "bench",
                                        [{"user_id": u} for u in batch])
    rest(users[:5])
    latencies = _single_latencies(rest, users[:args.single_queries])
  finally:
    server.shutdown()
    server.server_close()
  result["scann_rest"] = {
      "single_qps": len(latencies) / latencies.sum(),
      "p50_ms": 1000 * float(np.percentile(latencies, 50)),
      "p99_ms": 1000 * float(np.percentile(latencies, 99))}
  result["scann_over_brute_force_single_qps"] = (
      result["scann"]["single_qps"] / result["brute_force"]["single_qps"])
  return result


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="cdnrec bench retrieval",
                                   description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--out", required=True)
  parser.add_argument("--sizes", default="10000,100000,1000000")
  parser.add_argument("--dim", type=int, default=64)
  parser.add_argument("--k", type=int, default=50)
  parser.add_argument("--queries", type=int, default=2000,
                      help="held-out queries for recall and batched QPS")
  parser.add_argument("--single-queries", type=int, default=300,
                      help="queries timed one at a time")
  parser.add_argument("--batch", type=int, default=100)
  parser.add_argument("--clusters", type=int, default=256)
  parser.add_argument("--spread", type=float, default=0.35)
  parser.add_argument("--threads", type=int, default=1,
                      help="TensorFlow threads (1 = one core)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)

  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  os.makedirs(args.out, exist_ok=True)
  workdir = tempfile.mkdtemp(prefix="retrieval_", dir=args.out)
  results = []
  try:
    for n in (int(s) for s in args.sizes.split(",")):
      started = time.perf_counter()
      results.append(_measure(n, args, workdir))
      print(f"{n} items measured in {time.perf_counter() - started:.0f}s",
            flush=True)
      shutil.rmtree(workdir)
      os.makedirs(workdir)
  finally:
    shutil.rmtree(workdir, ignore_errors=True)

  print(f"\nrecall@{args.k} and latency, {args.dim}-d, TF threads "
        f"{args.threads}, {platform.node()} ({os.cpu_count()} cores)")
  header = (f"{'items':>9} {'recall':>7} | {'ScaNN qps':>9} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'batch qps':>9} | {'exact qps':>9} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'batch qps':>9} | {'speed-up':>8} | "
            f"{'REST p50':>8} {'REST p99':>8}")
  print(header)
  for r in results:
    s, b, h = r["scann"], r["brute_force"], r["scann_rest"]
    print(f"{r['items']:>9} {r['recall_at_k']:>7.4f} | {s['single_qps']:>9.0f} "
          f"{s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} {s['batched_qps']:>9.0f} | "
          f"{b['single_qps']:>9.0f} {b['p50_ms']:>7.2f} {b['p99_ms']:>7.2f} "
          f"{b['batched_qps']:>9.0f} | "
          f"{r['scann_over_brute_force_single_qps']:>7.1f}x | "
          f"{h['p50_ms']:>8.2f} {h['p99_ms']:>8.2f}")
  path = os.path.join(args.out, "retrieval.json")
  with open(path, "w") as f:
    json.dump({"machine": f"{platform.node()} {os.cpu_count()} cores",
               "settings": vars(args), "results": results}, f, indent=2)
  print(f"wrote {path}")
  return 0
