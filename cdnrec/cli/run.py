"""`cdnrec run`: the whole pipeline on this machine, then a sample query
against the pushed model in a fresh process."""

import argparse
import subprocess
import sys

from cdnrec.cli import flags


def add_parser(sub, name: str) -> None:
  parser = sub.add_parser(name, help="run the whole pipeline locally")
  flags.add_data(parser, default=flags.SYNTHETIC)
  parser.add_argument("--output", default="runs/default",
                      help="folder for data, artifacts, metadata and serving")
  parser.add_argument("--no-cache", action="store_true",
                      help="rerun every component even if its inputs are "
                           "unchanged")
  flags.add_training(parser)
  flags.add_tuning(parser)
  flags.add_blessing(parser)
  flags.add_infra_validation(parser)
  flags.add_beam(parser)


def main(args: argparse.Namespace) -> int:
  if args.data == flags.SYNTHETIC:
    data_dir = flags.synthetic_dir(args, args.output)
  elif not args.data_dir:
    print(f"error: --data {args.data} needs --data-dir PATH", file=sys.stderr)
    return 2
  else:
    data_dir = args.data_dir
  # Every setting is checked before any data is generated or read.
  config = flags.pipeline_config(args, data_dir)
  from cdnrec.pipeline import local_runner
  local_runner.check_infra_validation(config.infra_validation)
  if args.data == flags.SYNTHETIC:
    flags.ensure_synthetic(args, data_dir)

  outcome = local_runner.run(args.output, config,
                             beam_pipeline_args=args.beam_arg,
                             enable_cache=not args.no_cache)
  if not outcome.pushed:
    print(f"[cdnrec] nothing pushed: the model is not blessed "
          f"({outcome.reason})")
    return 1
  print(f"[cdnrec] model pushed as version {outcome.version} to "
        f"{outcome.destinations[0]} (brute-force twin: "
        f"{outcome.destinations[-1]})")
  user = outcome.sample_user()
  if user is None:
    print("[cdnrec] no test users to query")
    return 0
  command = [sys.executable, "-m", "cdnrec.cli", "query", "--model-dir",
             outcome.serving_model_dir, "--user-id", user.user_id]
  for feature, value in sorted(user.features.items()):
    command += ["--feature", f"{feature}={value}"]
  print(f"[cdnrec] sample query in a fresh process (held-out test item: "
        f"{user.held_out_item}):")
  print("  " + " ".join(command[1:]), flush=True)  # before the child's lines
  return subprocess.call(command)
