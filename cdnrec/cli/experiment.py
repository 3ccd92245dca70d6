"""`cdnrec experiment`: methods compared over seeds under the evaluation
protocol (docs/protocol.md), settings chosen on the validation split."""

import argparse
import contextlib
import logging
import os
import sys
from typing import Iterator

from cdnrec.cli import flags
from cdnrec.core.errors import ConfigError


def add_parser(sub, name: str) -> None:
  from cdnrec.experiment import config as experiment_config
  d = experiment_config.ExperimentConfig
  parser = sub.add_parser(name, help="compare methods over seeds, the "
                          "paper's tables")
  flags.add_data(parser)
  parser.add_argument("--methods", default=",".join(d.methods),
                      help="comma-separated method names")
  parser.add_argument("--seeds", default=",".join(map(str, d.seeds)))
  parser.add_argument("--out", required=True, help="folder for results")
  parser.add_argument("--epochs", type=int, default=d.epochs)
  parser.add_argument("--eval-k", "--top-k", dest="eval_k", type=int,
                      default=d.eval_k, help="K of HR@K / NDCG@K")
  parser.add_argument("--no-tune", action="store_true",
                      help="skip the validation search; use defaults and "
                           "--set")
  parser.add_argument("--gammas", default="",
                      help="comma-separated γ values for gamma.png")
  flags.add_settings(parser)


def _numbers(text: str, kind, flag: str):
  try:
    return [kind(v) for v in text.split(",") if v]
  except ValueError:
    raise ConfigError(f"{flag} takes comma-separated numbers, got "
                      f"{text!r}") from None


def main(args: argparse.Namespace) -> int:
  from cdnrec.experiment import config as experiment_config
  if not args.data_dir:
    raise SystemExit(f"error: --data {args.data} needs --data-dir PATH")
  data = flags.data_config(args)
  config = experiment_config.ExperimentConfig(
      data_dir=args.data_dir, out_dir=args.out, data_format=args.data,
      max_bad_rows=args.max_bad_rows, reader_config=data.reader_config,
      methods=tuple(m for m in args.methods.split(",") if m),
      seeds=tuple(_numbers(args.seeds, int, "--seeds")),
      epochs=args.epochs, eval_k=args.eval_k,
      head_fraction=data.resolved_head_fraction, tune=not args.no_tune,
      gammas=tuple(_numbers(args.gammas, float, "--gammas")),
      overrides=flags.settings(args.set))
  config.validate()

  from cdnrec.experiment import experiment
  from cdnrec.experiment import report
  with _log_to_stdout():
    results = experiment.run(config)
  chosen = ("hyperparameters chosen on validation" if config.tune else
            "hyperparameters as given (no tuning)")
  print(f"\nTest metrics in % (mean ± standard error over seeds "
        f"{list(config.seeds)}); full-corpus ranking, each user's own train "
        f"and validation items excluded; {chosen}:")
  print(report.table(results, config.eval_k))
  print(f"\nwrote {os.path.join(args.out, 'results.json')}")
  return 0


@contextlib.contextmanager
def _log_to_stdout() -> Iterator[None]:
  """The harness's progress lines on stdout while the block runs."""
  logger = logging.getLogger("cdnrec")
  saved = logger.level, logger.propagate
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(logging.Formatter("[cdnrec] %(message)s"))
  logger.setLevel(logging.INFO)
  logger.addHandler(handler)
  logger.propagate = False
  try:
    yield
  finally:
    logger.removeHandler(handler)
    logger.setLevel(saved[0])
    logger.propagate = saved[1]
