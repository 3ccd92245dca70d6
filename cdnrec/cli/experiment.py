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
  flags.add_data(parser, with_synthetic=True)
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
  parser.add_argument(
      "--frontier", action="store_true",
      help="sweep each method's head/tail knob instead of tuning, and "
           "re-score the --posthoc methods with post-hoc logit adjustment; "
           "writes frontier.png (docs/results.md)")
  parser.add_argument("--sweep", action="append", default=[],
                      metavar="METHOD=V1,V2,...",
                      help="--frontier: the knob values of METHOD "
                           "(repeatable)")
  parser.add_argument("--posthoc", default=",".join(d.posthoc),
                      help="--frontier: methods re-scored over τ at their "
                           "given settings ('' for none)")
  parser.add_argument("--posthoc-taus",
                      default=",".join(f"{t:g}" for t in d.posthoc_taus),
                      help="--frontier: τ values of post-hoc adjustment")
  flags.add_settings(parser)


def _sweeps(items):
  out = {}
  for item in items:
    method, sep, values = item.partition("=")
    if not sep or not method:
      raise ConfigError(f"--sweep takes METHOD=V1,V2,..., got {item!r}")
    out[method] = tuple(_numbers(values, float, f"--sweep {method}="))
  return out


def _numbers(text: str, kind, flag: str):
  try:
    return [kind(v) for v in text.split(",") if v]
  except ValueError:
    raise ConfigError(f"{flag} takes comma-separated numbers, got "
                      f"{text!r}") from None


def main(args: argparse.Namespace) -> int:
  from cdnrec.experiment import config as experiment_config
  if args.data == flags.SYNTHETIC:
    data_dir = flags.synthetic_dir(args, args.out)
  elif not args.data_dir:
    raise SystemExit(f"error: --data {args.data} needs --data-dir PATH")
  else:
    data_dir = args.data_dir
  data = flags.data_config(args, data_dir)
  config = experiment_config.ExperimentConfig(
      data_dir=data_dir, out_dir=args.out, data_format=data.data_format,
      max_bad_rows=args.max_bad_rows, reader_config=data.reader_config,
      methods=tuple(m for m in args.methods.split(",") if m),
      seeds=tuple(_numbers(args.seeds, int, "--seeds")),
      epochs=args.epochs, eval_k=args.eval_k,
      head_fraction=data.resolved_head_fraction, tune=not args.no_tune,
      gammas=tuple(_numbers(args.gammas, float, "--gammas")),
      overrides=flags.settings(args.set), frontier=args.frontier,
      sweeps=_sweeps(args.sweep),
      posthoc=tuple(m for m in args.posthoc.split(",") if m),
      posthoc_taus=tuple(_numbers(args.posthoc_taus, float,
                                  "--posthoc-taus")))
  config.validate()

  if args.data == flags.SYNTHETIC:
    flags.ensure_synthetic(args, data_dir)
  from cdnrec.experiment import experiment
  from cdnrec.experiment import report
  with _log_to_stdout():
    results = experiment.run(config)
  if config.frontier:
    return _print_frontier(results, config, args.out)
  chosen = ("hyperparameters chosen on validation" if config.tune else
            "hyperparameters as given (no tuning)")
  print(f"\nTest metrics in % (mean ± standard error over seeds "
        f"{list(config.seeds)}); full-corpus ranking, each user's own train "
        f"and validation items excluded; {chosen}:")
  print(report.table(results, config.eval_k))
  print(f"\nwrote {os.path.join(args.out, 'results.json')}")
  return 0


def _print_frontier(results, config, out: str) -> int:
  from cdnrec.experiment import frontier
  found = results["_frontier"]
  print(f"\nHead/tail frontier, test metrics in % (mean ± standard error "
        f"over seeds {list(config.seeds)}); validation NDCG@{config.eval_k} "
        f"is what to choose a point on:")
  print(frontier.table(found["curves"], config.eval_k,
                       {m: r for m, r in results.items()
                        if not m.startswith("_")}))
  if found["cdn_against"]:
    print(f"\nCDN's points against each other method's curve (tail "
          f"HR@{config.eval_k} at the same head HR@{config.eval_k}; "
          f"above/below: gap > 2 SE):")
    print(frontier.comparison_text(found["cdn_against"]))
  print(f"\nwrote {os.path.join(out, 'results.json')} and "
        f"{os.path.join(out, 'frontier.png')}")
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
