"""Tuned against default settings, with the Tuner's wall time.

For each neural method of --methods:
  1. `cdnrec run --tune` on the data (the pipeline's CdnTuner: --trials
     random draws from models/search_space.py, each trained --tune-epochs
     and scored on the validation split; --baseline none), in a
     subprocess; the Tuner's wall seconds come from the run's progress
     lines, its choice from best_hyperparameters.txt.
Then, on the same data, `cdnrec experiment --no-tune` over --seeds, each
neural run trained --epochs:
  2. every method with its defaults, plus ease (λ chosen on validation)
     and most_popular;
  3. each neural method with the Tuner's choice (--set, one experiment per
     method).
Prints validation and test HR@K / NDCG@K (overall, head, tail; mean ± SEM
over seeds) of each row and writes tune.json. Settings are chosen on the
validation split only; test figures are reported, never used.

--set NAME=VALUE (repeatable) fixes a training setting everywhere: in the
Tuner's trials (not searched) and in every neural row; e.g.
--set early_stopping_patience=5 --set early_stopping_metric=ndcg with
--epochs 40 lets validation NDCG choose each run's length.

--data synthetic generates the data first (--users, --items,
--interactions, --imbalance-factor, --data-seed: the embedded default, or
e.g. a sparse shape with many more items than users).
"""

import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys
import time
from typing import Any, Dict, List

_FINISHED = re.compile(r"\[cdnrec\] < CdnTuner finished in ([\d.]+)s")


def _cdnrec(args: List[str], log_path: str) -> str:
  """Runs `cdnrec ARGS` in a subprocess; its output (also in log_path)."""
  started = time.perf_counter()
  result = subprocess.run([sys.executable, "-m", "cdnrec.cli"] + args,
                          capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
  with open(log_path, "w") as f:
    f.write(result.stdout + result.stderr)
  if result.returncode not in (0, 1):  # 1: ran, nothing blessed/pushed
    raise RuntimeError(f"cdnrec {' '.join(args[:2])} exited "
                       f"{result.returncode}; see {log_path}")
  print(f"  cdnrec {args[0]} {' '.join(a for a in args[1:6])} ... "
        f"({time.perf_counter() - started:.0f} s)", flush=True)
  return result.stdout + result.stderr


def _data_flags(args) -> List[str]:
  return ["--data", args.data_format, "--data-dir", args.data_dir]


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="cdnrec bench tune", description=__doc__,
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--data", default="synthetic")
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--users", type=int, default=None)
  parser.add_argument("--items", type=int, default=None)
  parser.add_argument("--interactions", type=int, default=None)
  parser.add_argument("--imbalance-factor", type=float, default=None)
  parser.add_argument("--data-seed", type=int, default=None)
  parser.add_argument("--methods", default="two_tower,cdn")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--tune-epochs", type=int, default=None,
                      help="epochs of each Tuner trial (default: --epochs)")
  parser.add_argument("--set", dest="settings", action="append", default=[],
                      metavar="NAME=VALUE")
  parser.add_argument("--trials", type=int, default=10)
  parser.add_argument("--objective", default="overall")
  parser.add_argument("--out", default="runs/bench/tune")
  args = parser.parse_args(argv)
  out = os.path.abspath(args.out)
  os.makedirs(out, exist_ok=True)
  if args.data == "synthetic":
    from cdnrec.data import synthetic
    defaults = synthetic.SyntheticConfig()
    config = synthetic.SyntheticConfig(
        n_users=args.users or defaults.n_users,
        n_items=args.items or defaults.n_items,
        n_interactions=args.interactions or defaults.n_interactions,
        imbalance_factor=args.imbalance_factor or defaults.imbalance_factor,
        seed=defaults.seed if args.data_seed is None else args.data_seed)
    args.data_dir = os.path.join(out, "data")
    args.data_format = "recbole"
    if not os.path.exists(os.path.join(args.data_dir, "synthetic.inter")):
      synthetic.generate(config, args.data_dir)
  elif not args.data_dir:
    parser.error(f"--data {args.data} needs --data-dir")
  else:
    args.data_format = args.data
  methods = [m for m in args.methods.split(",") if m]
  tune_epochs = args.tune_epochs or args.epochs
  fixed = [flag for setting in args.settings for flag in ("--set", setting)]
  common = ["--epochs", str(args.epochs), "--seeds", args.seeds,
            "--no-tune", *fixed]
  report: Dict[str, Any] = {
      "machine": f"{platform.node()} {os.cpu_count()} cores",
      "data": {"format": args.data_format, "dir": args.data_dir},
      "trials": args.trials, "tune_epochs": tune_epochs,
      "epochs": args.epochs, "settings": args.settings, "seeds": args.seeds,
      "objective": args.objective, "tuner": {}, "rows": {}}
  for method in methods:
    run_out = os.path.join(out, f"run_{method}")
    text = _cdnrec(["run", *_data_flags(args), "--model", method,
                    "--baseline", "none", "--epochs", str(args.epochs),
                    "--tune", "--tune-trials", str(args.trials),
                    "--tune-epochs", str(tune_epochs), *fixed,
                    "--tune-objective", args.objective,
                    "--output", run_out],
                   os.path.join(out, f"run_{method}.log"))
    found = _FINISHED.search(text)
    best_files = glob.glob(os.path.join(
        run_out, "pipeline", "CdnTuner", "best_hyperparameters", "*",
        "best_hyperparameters.txt"))
    if not found or not best_files:
      raise RuntimeError(f"no CdnTuner result in {run_out}")
    with open(sorted(best_files)[-1]) as f:
      best = json.load(f)["values"]
    report["tuner"][method] = {"seconds": float(found.group(1)),
                               "best": best}
  default_out = os.path.join(out, "default")
  _cdnrec(["experiment", *_data_flags(args), "--methods",
           ",".join(methods + ["ease", "most_popular"]), *common,
           "--out", default_out], os.path.join(out, "default.log"))
  with open(os.path.join(default_out, "results.json")) as f:
    for name, row in json.load(f).items():
      if not name.startswith("_"):
        label = (name if name in ("ease", "most_popular") else
                 f"{name} (default)")
        report["rows"][label] = row
  for method in methods:
    tuned_out = os.path.join(out, f"tuned_{method}")
    sets = []
    for name, value in report["tuner"][method]["best"].items():
      sets += ["--set", f"{name}={json.dumps(_setting(name, value))}"]
    _cdnrec(["experiment", *_data_flags(args), "--methods", method,
             *common, *sets, "--out", tuned_out],
            os.path.join(out, f"tuned_{method}.log"))
    with open(os.path.join(tuned_out, "results.json")) as f:
      report["rows"][f"{method} (tuned)"] = json.load(f)[method]
  with open(os.path.join(out, "tune.json"), "w") as f:
    json.dump(report, f, indent=2)
  _print(report)
  print(f"wrote {os.path.join(out, 'tune.json')}")
  return 0


def _setting(name: str, value: Any) -> Any:
  from cdnrec.models import search_space
  return search_space.from_choice(name, value)


def _print(report: Dict[str, Any]) -> None:
  k = 50
  print(f"\n{report['data']['format']} {report['data']['dir']}: "
        f"{report['trials']} trials of {report['tune_epochs']} epochs, "
        f"rows of {report['epochs']} epochs, seeds {report['seeds']}, "
        f"settings {report['settings'] or 'as default'}, "
        f"{report['machine']}")
  for method, tuner in report["tuner"].items():
    print(f"  {method}: tuned in {tuner['seconds']:.0f} s -> {tuner['best']}")
  print(f"{'':24} {'val NDCG':>14} {'HR overall':>14} {'HR head':>14} "
        f"{'HR tail':>14}")
  for name, row in report["rows"].items():
    cells = [row["validation"]["overall"][f"ndcg@{k}"]] + [
        row[s][f"hr@{k}"] for s in ("overall", "head", "tail")]
    print(f"{name:24} " + " ".join(
        f"{c['mean']:7.2f} ± {c['sem']:4.2f}" for c in cells))
