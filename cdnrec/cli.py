"""`cdnrec`: the command-line entry point.

  cdnrec run    generate or read data, run the whole pipeline, push a model
                and answer a sample query with it in a fresh process
  cdnrec experiment  compare methods over seeds (the paper's tables)
  cdnrec stats  the dataset's users, items, sparsity, imbalance, head/tail
  cdnrec bench  benchmarks: train, retrieval, beam, pipeline, profile
  cdnrec query  ask a pushed model (or a server) for one user's top items
  cdnrec serve  answer TF Serving REST queries from pushed versions
  cdnrec compile  write the Vertex AI / Kubeflow pipeline spec
"""

from cdnrec import _environment  # noqa: F401  (before anything imports TF)

import argparse
import glob
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

SAMPLE_TOP = 10


def _add_size_flags(parser: argparse.ArgumentParser) -> None:
  from cdnrec.data import synthetic
  d = synthetic.SyntheticConfig()
  group = parser.add_argument_group("synthetic data size")
  group.add_argument("--users", type=int, default=d.n_users)
  group.add_argument("--items", type=int, default=d.n_items)
  group.add_argument("--interactions", type=int, default=d.n_interactions)
  group.add_argument("--imbalance-factor", type=float,
                     default=d.imbalance_factor)
  group.add_argument("--data-seed", type=int, default=d.seed)


DATA_CHOICES = ["synthetic", "movielens-100k", "movielens-1m",
                "movielens-csv", "bookcrossing", "recbole", "tfds", "table"]


def _add_data_flags(parser: argparse.ArgumentParser,
                    synthetic: bool = True) -> None:
  choices = DATA_CHOICES if synthetic else DATA_CHOICES[1:]
  parser.add_argument(
      "--data", default="synthetic" if synthetic else None,
      required=not synthetic, choices=choices,
      help="dataset layout; all but synthetic read --data-dir")
  parser.add_argument("--data-dir", help="the dataset's folder")
  parser.add_argument("--max-bad-rows", type=int, default=0,
                      help="malformed or dangling rows to skip before failing")
  parser.add_argument("--table-config",
                      help="JSON column mapping for --data table")
  parser.add_argument("--columns",
                      help="inline column mapping for --data table, e.g. "
                           "interactions=log.csv,user_id=uid,item_id=iid,"
                           "timestamp=ts,item:genres=token_seq")
  parser.add_argument("--tfds-name", default="movielens/100k-ratings",
                      help="TFDS dataset for --data tfds")
  parser.add_argument("--user-features", default=None,
                      help="comma-separated user columns to use (default: "
                           "all; '' for none)")
  parser.add_argument("--item-features", default=None,
                      help="comma-separated item content columns to use "
                           "(default: all; '' for none)")
  parser.add_argument("--head-fraction", type=float, default=None,
                      help="share of items that are head (default 0.2; "
                           "0.001 for bookcrossing, as the paper)")


def _reader_config(args) -> Dict:
  if args.data == "table":
    if args.table_config:
      with open(args.table_config) as f:
        return json.load(f)
    if args.columns:
      from cdnrec.data.readers import table
      return table.parse_columns(args.columns)
    raise SystemExit("error: --data table needs --table-config or --columns")
  if args.data == "tfds":
    return {"dataset": args.tfds_name}
  return {}


def _feature_selection(args) -> Dict:
  out = {}
  for side in ("user", "item"):
    value = getattr(args, f"{side}_features")
    if value is not None:
      out[side] = [c for c in value.split(",") if c]
  return out


def _head_fraction(args) -> float:
  from cdnrec.data import readers
  if args.head_fraction is not None:
    return args.head_fraction
  return readers.HEAD_FRACTION.get(args.data, 0.2)


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="cdnrec", description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  sub = parser.add_subparsers(dest="command", required=True)

  run = sub.add_parser("run", help="run the whole pipeline locally")
  _add_data_flags(run)
  run.add_argument("--output", default="runs/default",
                   help="folder for data, artifacts, metadata and serving")
  run.add_argument("--model", default="cdn",
                   help="retrieval model the Trainer trains: cdn, two_tower "
                        "or a baseline of models/registry.py")
  run.add_argument("--epochs", type=int, default=5)
  run.add_argument("--batch-size", type=int, default=1024)
  run.add_argument("--learning-rate", type=float, default=0.001)
  run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other training setting of models/config.py, "
                        "repeatable (e.g. --set gamma=5 --set temperature=0.1)")
  run.add_argument("--schema", help="a curated schema.pbtxt; the run fails "
                   "on any anomaly against it (default: inferred)")
  run.add_argument("--top-k", type=int, default=50,
                   help="K of the evaluation's HR@K / NDCG@K")
  run.add_argument("--seed", type=int, default=0)
  run.add_argument("--no-cache", action="store_true",
                   help="rerun every component even if its inputs are unchanged")
  run.add_argument("--beam-arg", action="append", default=None,
                   help="a Beam pipeline arg, repeatable "
                        "(e.g. --beam-arg=--direct_running_mode=multi_processing)")
  gate = run.add_argument_group(
      "blessing: only a model that clears these is pushed")
  gate.add_argument("--baseline", default="auto",
                    help="model trained beside it in the same run; the "
                         "first run is compared against it, later runs "
                         "against the model last blessed. 'auto': "
                         "two_tower unless --model is two_tower; 'none'")
  defaults = _blessing_defaults()
  gate.add_argument("--max-regression", type=float,
                    default=defaults.max_regression,
                    help="allowed relative drop of overall HR@K and NDCG@K")
  gate.add_argument("--min-tail-hr", type=float, default=defaults.min_tail_hr)
  gate.add_argument("--min-tail-ndcg", type=float,
                    default=defaults.min_tail_ndcg)
  gate.add_argument("--min-index-recall", type=float,
                    default=defaults.min_index_recall,
                    help="ScaNN recall@K against exact search")
  run.add_argument("--keep-versions", type=int, default=5,
                   help="pushed versions kept in each serving folder")
  run.add_argument("--warm-start", action="store_true",
                   help="start training from the last blessed model")
  _add_size_flags(run)

  exp = sub.add_parser("experiment",
                       help="compare methods over seeds, the paper's tables")
  _add_data_flags(exp, synthetic=False)
  exp.add_argument("--methods", default="cdn,two_tower",
                   help="comma-separated method names")
  exp.add_argument("--seeds", default="0,1,2,3,4")
  exp.add_argument("--out", required=True, help="folder for results")
  exp.add_argument("--epochs", type=int, default=40)
  exp.add_argument("--top-k", type=int, default=50)
  exp.add_argument("--no-tune", action="store_true",
                   help="skip the validation search; use defaults and --set")
  exp.add_argument("--gammas", default="",
                   help="comma-separated γ values for gamma.png")
  exp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="fix a training setting for every method")

  stats = sub.add_parser("stats", help="the dataset's Table 7 figures")
  _add_data_flags(stats, synthetic=False)
  stats.add_argument("--json", action="store_true", help="print JSON")

  query = sub.add_parser("query", help="top items for one user, from a "
                         "pushed model or a running server")
  where = query.add_mutually_exclusive_group(required=True)
  where.add_argument("--model-dir",
                     help="a SavedModel or a folder of numbered versions")
  where.add_argument("--server", help="a TF Serving REST address, e.g. "
                     "http://127.0.0.1:8501 (cdnrec serve or TF Serving)")
  query.add_argument("--model-name", default="cdnrec",
                     help="the served model's name (with --server)")
  query.add_argument("--user-id", required=True)
  query.add_argument("--feature", action="append", default=[],
                     metavar="NAME=VALUE", help="a user feature, repeatable")
  query.add_argument("--top", type=int, default=SAMPLE_TOP)
  query.add_argument("--json", action="store_true", help="print JSON")

  serve = sub.add_parser("serve", help="answer TF Serving REST queries from "
                         "a pushed model folder")
  serve.add_argument("--model-dir", required=True,
                     help="TF Serving's model_base_path: numbered versions")
  serve.add_argument("--model-name", default=None,
                     help="name in the URLs (default: the folder's name)")
  serve.add_argument("--host", default="127.0.0.1",
                     help="address to bind; 0.0.0.0 exposes it to the "
                          "network")
  serve.add_argument("--port", type=int, default=8501)
  serve.add_argument("--poll-seconds", type=float, default=2.0,
                     help="how often to look for a newer version")
  serve.add_argument("--max-body-bytes", type=int, default=1 << 20)
  serve.add_argument("--max-batch", type=int, default=256,
                     help="most queries in one request")

  comp = sub.add_parser("compile", help="write the pipeline spec for "
                        "Vertex AI / Kubeflow Pipelines")
  comp.add_argument("--target", choices=["vertex"], default="vertex")
  comp.add_argument("--output", required=True, help="pipeline.json to write")
  comp.add_argument("--pipeline-root", default="gs://BUCKET/cdnrec/pipeline")
  comp.add_argument("--data", default="recbole", choices=DATA_CHOICES[1:])
  comp.add_argument("--data-dir", default="gs://BUCKET/cdnrec/data")
  comp.add_argument("--serving-dir", default="gs://BUCKET/cdnrec/serving",
                    help="the ScaNN model goes to DIR/cdnrec/<version>, the "
                         "brute-force one to DIR/cdnrec_brute_force/<version>")
  comp.add_argument("--image", default=None,
                    help="the pipeline image (docker/pipeline/Dockerfile)")
  comp.add_argument("--model", default="cdn")
  comp.add_argument("--epochs", type=int, default=40)
  comp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
  comp.add_argument("--baseline", default="two_tower",
                    help="baseline model for the first run; 'none'")
  comp.add_argument("--warm-start", action="store_true",
                    help="train from the last blessed model's weights")
  comp.add_argument("--beam-arg", action="append", default=None,
                    help="a Beam pipeline arg, repeatable (e.g. "
                         "--beam-arg=--runner=DataflowRunner)")
  return parser


def _blessing_defaults():
  from components.evaluator import blessing
  return blessing.Thresholds()


def _synthetic_data(args) -> str:
  from cdnrec.data import synthetic
  config = synthetic.SyntheticConfig(
      n_users=args.users, n_items=args.items, n_interactions=args.interactions,
      imbalance_factor=args.imbalance_factor, seed=args.data_seed)
  config.validate()
  data_dir = os.path.join(os.path.abspath(args.output), "data",
                          synthetic.dataset_dir_name(config))
  if os.path.exists(os.path.join(data_dir, "synthetic.inter")):
    print(f"[cdnrec] using generated data in {data_dir}")
  else:
    print(f"[cdnrec] generating {config}")
    synthetic.generate(config, data_dir)
  return data_dir


def _sample_user(pipeline_root: str) -> Optional[Dict[str, str]]:
  """Features of the first user of the newest test split, and the held-out
  item, for the closing demo query."""
  import tensorflow as tf
  from cdnrec import features as F
  pattern = os.path.join(pipeline_root, "LeaveOneOutExampleGen", "examples",
                         "*", "Split-test", "*.gz")
  files = sorted(glob.glob(pattern), key=os.path.getmtime)
  if not files:
    return None
  record = next(iter(tf.data.TFRecordDataset(files[-1:],
                                             compression_type="GZIP")), None)
  if record is None:
    return None
  example = tf.train.Example.FromString(record.numpy())
  out = {}
  for name, feature in example.features.feature.items():
    if name.startswith("user_") and feature.bytes_list.value:
      out[name] = " ".join(v.decode() for v in feature.bytes_list.value)
    elif name.startswith("user_") and feature.float_list.value:
      out[name] = str(feature.float_list.value[0])
  out["held_out_item"] = example.features.feature[
      F.ITEM_ID].bytes_list.value[0].decode()
  return out


def _baseline_config(args, train_config) -> Optional[Dict]:
  name = args.baseline
  if name == "auto":
    name = "none" if args.model == "two_tower" else "two_tower"
  if name == "none":
    return None
  # Same budget and data; the model's own tuned settings stay its own.
  return {"model": name, "epochs": args.epochs, "batch_size": args.batch_size,
          "seed": args.seed}


def _push_record(pipeline_root: str) -> Dict:
  """The newest VersionedPusher decision of this pipeline root."""
  from components.pusher import executor as pusher_executor
  records = glob.glob(os.path.join(pipeline_root, "VersionedPusher",
                                   "pushed_model", "*",
                                   pusher_executor.PUSH_FILE))
  if not records:
    return {}
  newest = max(records, key=lambda p: int(p.split(os.sep)[-2]))
  with open(newest) as f:
    return json.load(f)


def _parse_value(text: str):
  """'3' -> 3, '0.5' -> 0.5, '[256,64]' -> [256, 64], else the string."""
  try:
    return json.loads(text)
  except json.JSONDecodeError:
    return text


def _run(args) -> int:
  from components.evaluator import blessing
  from pipeline import local_runner
  data_format = "recbole"
  if args.data == "synthetic":
    data_dir = _synthetic_data(args)
  else:
    if not args.data_dir:
      print(f"error: --data {args.data} needs --data-dir PATH",
            file=sys.stderr)
      return 2
    data_dir, data_format = args.data_dir, args.data
  train_config = {"model": args.model, "epochs": args.epochs,
                  "batch_size": args.batch_size,
                  "learning_rate": args.learning_rate, "seed": args.seed}
  train_config.update(_settings(args.set))
  paths = local_runner.run(
      args.output, data_dir, train_config=train_config,
      head_fraction=_head_fraction(args), top_k=args.top_k, seed=args.seed,
      data_format=data_format, max_bad_rows=args.max_bad_rows,
      reader_config=_reader_config(args), schema_path=args.schema,
      features=_feature_selection(args),
      beam_pipeline_args=args.beam_arg, enable_cache=not args.no_cache,
      thresholds=blessing.Thresholds(
          max_regression=args.max_regression, min_tail_hr=args.min_tail_hr,
          min_tail_ndcg=args.min_tail_ndcg,
          min_index_recall=args.min_index_recall),
      baseline_train_config=_baseline_config(args, train_config),
      keep_versions=args.keep_versions, warm_start=args.warm_start)

  push = _push_record(paths.pipeline_root)
  if not push.get("pushed"):
    print(f"[cdnrec] nothing pushed: the model is not blessed "
          f"({push.get('reason', 'see the RetrievalEvaluator log')})")
    return 1
  pushed = push["destinations"][0]
  print(f"[cdnrec] model pushed to {pushed} (brute-force twin: "
        f"{push['destinations'][-1]})")
  user = _sample_user(paths.pipeline_root)
  if user is None:
    print("[cdnrec] no test users to query")
    return 0
  held_out = user.pop("held_out_item")
  command = [sys.executable, "-m", "cdnrec.cli", "query", "--model-dir",
             paths.serving_model_dir, "--user-id", user.pop("user_id")]
  for name, value in sorted(user.items()):
    command += ["--feature", f"{name}={value}"]
  print(f"[cdnrec] sample query in a fresh process (held-out test item: "
        f"{held_out}):")
  print("  " + " ".join(command[1:]))
  return subprocess.call(command)


def _query(args) -> int:
  features: Dict[str, object] = {"user_id": args.user_id}
  for item in args.feature:
    name, sep, value = item.partition("=")
    if not sep:
      print(f"error: --feature {item!r} must look like NAME=VALUE",
            file=sys.stderr)
      return 2
    features[name] = value
  if args.server:
    source, top = _query_server(args, features)
  else:
    from serving import model as serving_model
    model = serving_model.RetrievalModel(args.model_dir)
    for name, spec in model.feature_specs.items():
      if name in features and spec.dtype.is_floating:
        features[name] = float(features[name])
    source = model.path
    top = model.query({n: [v] for n, v in features.items()})[0][:args.top]
  if args.json:
    print(json.dumps({"model": source, "user_id": args.user_id,
                      "items": [{"item_id": i, "score": s} for i, s in top]}))
  else:
    print(f"top {len(top)} items for user {args.user_id} from {source}:")
    for rank, (item, score) in enumerate(top, start=1):
      print(f"  {rank:2d}. {item:<12s} {score:.4f}")
  return 0


def _query_server(args, features):
  from serving import client
  types = client.input_types(args.server, args.model_name)
  for name, value in features.items():
    if types.get(name, "DT_STRING") != "DT_STRING":
      try:
        features[name] = float(value)
      except ValueError:
        raise SystemExit(f"error: --feature {name}={value}: the model takes "
                         f"a number for {name}") from None
  answer = client.predict(args.server, args.model_name, [features],
                          k=args.top)[0]
  return (f"{args.server} ({args.model_name})",
          list(zip(answer["item_ids"], answer["scores"])))


def _serve(args) -> int:
  from serving import server
  server.serve(args.model_dir, args.model_name, args.host, args.port,
               poll_seconds=args.poll_seconds,
               max_body_bytes=args.max_body_bytes, max_batch=args.max_batch)
  return 0


def _compile(args) -> int:
  from pipeline import vertex
  train_config = {"model": args.model, "epochs": args.epochs}
  train_config.update(_settings(args.set))
  baseline = (None if args.baseline == "none" else
              {"model": args.baseline, "epochs": args.epochs})
  serving = args.serving_dir.rstrip("/")
  spec = vertex.compile_pipeline(
      args.output, args.pipeline_root, args.data_dir,
      serving_model_dir=f"{serving}/cdnrec",
      brute_force_model_dir=f"{serving}/cdnrec_brute_force",
      image=args.image or vertex.DEFAULT_IMAGE, train_config=train_config,
      baseline_train_config=baseline, data_format=args.data,
      beam_pipeline_args=args.beam_arg, warm_start=args.warm_start)
  tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
  print(f"[cdnrec] wrote {args.output}: {len(tasks)} components "
        f"({', '.join(tasks)})")
  return 0


def _settings(pairs: List[str]) -> Dict[str, object]:
  out = {}
  for item in pairs:
    name, sep, value = item.partition("=")
    if not sep:
      raise SystemExit(f"error: --set {item!r} must look like NAME=VALUE")
    out[name] = _parse_value(value)
  return out


def _experiment(args) -> int:
  import logging
  from cdnrec.experiment import experiment
  from cdnrec.experiment import report
  logging.basicConfig(level=logging.WARNING)
  logger = logging.getLogger("cdnrec")
  logger.setLevel(logging.INFO)
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(logging.Formatter("[cdnrec] %(message)s"))
  logger.addHandler(handler)
  logger.propagate = False
  if not args.data_dir:
    raise SystemExit(f"error: --data {args.data} needs --data-dir PATH")
  config = experiment.ExperimentConfig(
      data_dir=args.data_dir, out_dir=args.out, data_format=args.data,
      max_bad_rows=args.max_bad_rows, reader_config=_reader_config(args),
      methods=[m for m in args.methods.split(",") if m],
      seeds=[int(s) for s in args.seeds.split(",") if s],
      epochs=args.epochs, k=args.top_k, head_fraction=_head_fraction(args),
      tune=not args.no_tune,
      gammas=[float(g) for g in args.gammas.split(",") if g],
      overrides=_settings(args.set))
  results = experiment.run(config)
  k = args.top_k
  chosen = ("hyperparameters chosen on validation" if config.tune else
            "hyperparameters as given (no tuning)")
  print(f"\nTest metrics in % (mean ± standard error over seeds "
        f"{config.seeds}); full-corpus ranking, each user's own train and "
        f"validation items excluded; {chosen}:")
  print(report.table(results, k))
  print(f"\nwrote {os.path.join(args.out, 'results.json')}")
  return 0


def _stats(args) -> int:
  from cdnrec.data import readers
  from cdnrec.data import stats
  if not args.data_dir:
    raise SystemExit(f"error: --data {args.data} needs --data-dir PATH")
  tables, report = readers.make(args.data, _reader_config(args)).read(
      args.data_dir, readers.ReadOptions(args.max_bad_rows))
  result = stats.compute(tables, _head_fraction(args))
  if args.json:
    import dataclasses
    print(json.dumps({**dataclasses.asdict(result),
                      "bad_rows": report.bad_rows}, indent=2))
    return 0
  print(f"{args.data} in {args.data_dir} (head = top "
        f"{100 * _head_fraction(args):g}% of items by train frequency; "
        f"leave-one-out split):")
  print(result.table())
  if report.bad_rows:
    print(f"skipped {report.bad_rows} bad rows, e.g. {report.bad_examples[0]}")
  for note in report.notes:
    print(note)
  return 0


BENCHMARKS = {"train": "benchmarks.train", "retrieval": "benchmarks.retrieval",
              "beam": "benchmarks.beam", "pipeline": "benchmarks.pipeline",
              "profile": "benchmarks.profile"}


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] == ["bench"]:
    # Benchmarks own their flags: `cdnrec bench NAME --help`.
    import importlib
    if len(argv) < 2 or argv[1] not in BENCHMARKS:
      print(f"usage: cdnrec bench {{{','.join(BENCHMARKS)}}} [flags]",
            file=sys.stderr)
      return 2
    return importlib.import_module(BENCHMARKS[argv[1]]).main(argv[2:])
  args = _parser().parse_args(argv)
  from cdnrec.data import atomic
  from serving import client
  commands = {"run": _run, "experiment": _experiment, "stats": _stats,
              "query": _query, "serve": _serve, "compile": _compile}
  try:
    return commands[args.command](args)
  except (atomic.DataFormatError, FileNotFoundError, client.ServerError) as e:
    # Bad input: the message names the file, line and field (or the
    # server's reason); a traceback would only bury it.
    print(f"error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
