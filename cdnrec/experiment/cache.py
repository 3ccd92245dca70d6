"""The run cache of `cdnrec experiment`: every run's result saved under
`<out>/runs/` keyed by its full settings and the code version, so an
interrupted experiment resumes where it stopped and a rerun with more seeds
only trains the new ones."""

import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, List, Sequence

from cdnrec.experiment import baselines
from cdnrec.experiment import data as data_lib
from cdnrec.experiment import run as run_lib
from cdnrec.models import config as config_lib


def write_json(path: str, value) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)


# What a run's result depends on besides its settings and data (the data
# is keyed by its fingerprint): reading and preparing the data, the
# models, training and evaluation. The harness around runs (sweeps,
# reports, plots, the CLI), serving and the synthetic data generator
# (whose output is data, fingerprinted) are left out, so editing them
# keeps finished runs.
_RUN_CODE = ("_environment.py", "core", "components", "data", "models",
             "experiment/run.py",
             "experiment/data.py", "experiment/baselines.py")
_NOT_RUN_CODE = ("data/synthetic.py", "data/synthetic_scale.py")


def run_code_files() -> List[str]:
  """Paths (relative to the package) of the code in _RUN_CODE, sorted."""
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  found = []
  for dirpath, _, files in os.walk(package):
    for name in files:
      path = os.path.relpath(os.path.join(dirpath, name), package)
      if (name.endswith(".py") and path not in _NOT_RUN_CODE and
          any(path == p or path.startswith(p + os.sep) for p in _RUN_CODE)):
        found.append(path)
  return sorted(found)


def code_version() -> str:
  """Hash of the code a run's result depends on, so edited models never
  reuse stale results."""
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  h = hashlib.sha256()
  for path in run_code_files():
    with open(os.path.join(package, path), "rb") as f:
      h.update(path.encode() + f.read())
  return h.hexdigest()[:16]


class RunCache:
  """Results of finished runs, one JSON file per distinct configuration and
  code version."""

  def __init__(self, out_dir: str, prepared: data_lib.PreparedData, k: int):
    self._dir = os.path.join(out_dir, "runs")
    os.makedirs(self._dir, exist_ok=True)
    self._prepared = prepared
    self._k = k
    self._code = code_version()
    # Another dataset (or another reading of it) in the same folder never
    # reuses a result.
    self._data = hashlib.sha256(prepared.data_key().encode()).hexdigest()

  def get(self, config: config_lib.TrainConfig, splits: Sequence[str],
          posthoc_taus: Sequence[float] = ()) -> run_lib.RunResult:
    key = config.to_dict()
    if posthoc_taus:
      key["_posthoc_taus"] = [float(t) for t in posthoc_taus]
    return self._cached(config.model, key, splits,
                        lambda: run_lib.train_and_evaluate(
                            self._prepared, config, self._k, splits,
                            posthoc_taus))

  def baseline(self, method: str, settings: Dict[str, Any],
               splits: Sequence[str]) -> run_lib.RunResult:
    return self._cached(method, {"model": method, **settings}, splits,
                        lambda: baselines.run(method, self._prepared,
                                              self._k, settings, splits))

  def _cached(self, model: str, config: Dict[str, Any],
              splits: Sequence[str], compute) -> run_lib.RunResult:
    key = json.dumps({"config": config, "k": self._k,
                      "splits": list(splits), "code": self._code,
                      "data": self._data},
                     sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = os.path.join(self._dir, f"{model}-{name}.json")
    if os.path.exists(path):
      with open(path) as f:
        return run_lib.RunResult(**json.load(f))
    result = compute()
    write_json(path, dataclasses.asdict(result))
    return result
