"""EASE's two forms (experiment/baselines.py) scored by the Evaluator on
the same prepared data: the largest difference between their HR@50 and
NDCG@50 over both splits and every slice, at each λ of the grid's ends
and the usual choice.

  .venv/bin/python scripts/ease_forms.py runs/ease_ml100k

(the --out folder of a `cdnrec experiment` run, which holds artifacts/).
Exits 1 when the forms differ by more than 1e-9 anywhere.
"""

import os
import sys

import cdnrec  # noqa: F401  (sets TensorFlow's environment before it loads)
from cdnrec.experiment import baselines
from cdnrec.experiment import data as data_lib

_SPLITS = ("eval", "test")


def _metrics(prepared, data, l2: float, user_form: bool):
  embed, vectors = baselines.ease_scorer(data, l2, user_form)
  result = baselines._evaluate(prepared, embed, data.item_ids, vectors, 50,  # pylint: disable=protected-access
                               _SPLITS)
  return {(split, name, metric): result[split][name][metric]
          for split in _SPLITS for name in ("overall", "head", "tail")
          for metric in ("hr", "ndcg")}


def main(out_dir: str) -> int:
  prepared = data_lib.PreparedData(os.path.join(out_dir, "artifacts"))
  data = baselines._Interactions(prepared)  # pylint: disable=protected-access
  print(f"{len(data.user_ids)} users, {len(data.item_ids)} items; the "
        f"pipeline uses the "
        f"{'user' if baselines.use_user_form(len(data.user_ids), len(data.item_ids)) else 'item'}"
        " form")
  worst = 0.0
  for l2 in (baselines.EASE_LAMBDAS[0], 200.0, baselines.EASE_LAMBDAS[-1]):
    items, users = (_metrics(prepared, data, l2, form)
                    for form in (False, True))
    diff = max(abs(items[key] - users[key]) for key in items)
    worst = max(worst, diff)
    print(f"λ = {l2:g}: largest difference {diff:.2e}; test HR@50 overall "
          f"{100 * items[('test', 'overall', 'hr')]:.2f} (items) "
          f"{100 * users[('test', 'overall', 'hr')]:.2f} (users)")
  return 0 if worst <= 1e-9 else 1


if __name__ == "__main__":
  sys.exit(main(sys.argv[1]))
