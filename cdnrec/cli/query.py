"""`cdnrec query`: one user's top items from a pushed model (loaded in this
process) or from a running server (TF Serving's REST API, or its gRPC API
for a grpc:// address)."""

import argparse
import json
import sys
from typing import Dict, List, Tuple

SAMPLE_TOP = 10


def add_parser(sub, name: str) -> None:
  parser = sub.add_parser(name, help="top items for one user, from a pushed "
                          "model or a running server")
  where = parser.add_mutually_exclusive_group(required=True)
  where.add_argument("--model-dir",
                     help="a SavedModel or a folder of numbered versions")
  where.add_argument("--server", help="a TF Serving address (cdnrec serve "
                     "or TF Serving): REST, e.g. http://127.0.0.1:8501, or "
                     "gRPC, e.g. grpc://127.0.0.1:8500")
  parser.add_argument("--model-name", default="cdnrec",
                      help="the served model's name (with --server)")
  parser.add_argument("--user-id", required=True)
  parser.add_argument("--feature", action="append", default=[],
                      metavar="NAME=VALUE", help="a user feature, repeatable")
  parser.add_argument("--top", type=int, default=SAMPLE_TOP)
  parser.add_argument("--json", action="store_true", help="print JSON")


def main(args: argparse.Namespace) -> int:
  features: Dict[str, object] = {"user_id": args.user_id}
  for item in args.feature:
    name, sep, value = item.partition("=")
    if not sep:
      print(f"error: --feature {item!r} must look like NAME=VALUE",
            file=sys.stderr)
      return 2
    features[name] = value
  if args.server:
    source, top = _from_server(args, features)
  else:
    source, top = _from_model(args, features)
  if args.json:
    print(json.dumps({"model": source, "user_id": args.user_id,
                      "items": [{"item_id": i, "score": s} for i, s in top]}))
  else:
    print(f"top {len(top)} items for user {args.user_id} from {source}:")
    for rank, (item, score) in enumerate(top, start=1):
      print(f"  {rank:2d}. {item:<12s} {score:.4f}")
  return 0


def _from_model(args, features) -> Tuple[str, List[Tuple[str, float]]]:
  from cdnrec.serving import model as serving_model
  model = serving_model.RetrievalModel(args.model_dir)
  for name, spec in model.feature_specs.items():
    if name in features and spec.dtype.is_floating:
      features[name] = float(features[name])
  return model.path, model.query({n: [v] for n, v in features.items()}
                                 )[0][:args.top]


def _from_server(args, features) -> Tuple[str, List[Tuple[str, float]]]:
  from cdnrec.serving import grpc_client
  if grpc_client.is_grpc(args.server):
    with grpc_client.Client(args.server) as connection:
      return _ask(args, features, connection.input_types,
                  connection.predict)
  from cdnrec.serving import client
  return _ask(args, features,
              lambda model: client.input_types(args.server, model),
              lambda model, rows, k: client.predict(args.server, model,
                                                    rows, k=k))


def _ask(args, features, input_types, predict
         ) -> Tuple[str, List[Tuple[str, float]]]:
  types = input_types(args.model_name)
  for name, value in features.items():
    if types.get(name, "DT_STRING") != "DT_STRING":
      try:
        features[name] = float(value)
      except ValueError:
        raise SystemExit(f"error: --feature {name}={value}: the model takes "
                         f"a number for {name}") from None
  answer = predict(args.model_name, [features], k=args.top)[0]
  return (f"{args.server} ({args.model_name})",
          list(zip(answer["item_ids"], answer["scores"])))
