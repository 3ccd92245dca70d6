"""The frontier's comparison of curves, its table and its settings checks
(the sweep itself runs end to end in test_experiment.py)."""

import pytest

from cdnrec.core.errors import ConfigError
from cdnrec.experiment import frontier
from cdnrec.experiment.config import ExperimentConfig


def _point(value, head, tail, tail_sem=0.1, head_sem=0.1):
  m = lambda mean, sem: {"mean": mean, "sem": sem, "seeds": [mean]}
  return {"knob": "k", "value": value, "validation": None, "test": {
      "overall": {"hr@50": m((head + tail) / 2, 0.1)},
      "head": {"hr@50": m(head, head_sem)},
      "tail": {"hr@50": m(tail, tail_sem)}}}


# A straight line from (head 40, tail 30) to (head 50, tail 20).
OTHER = [_point(1, 50.0, 20.0), _point(0, 40.0, 30.0)]


def test_compare_interpolates_at_the_same_head_recall():
  rows = frontier.compare([_point(5, 45.0, 26.0), _point(6, 45.0, 25.1),
                           _point(7, 42.0, 26.0), _point(8, 55.0, 1.0)],
                          OTHER, 50)
  above, level, below, outside = rows
  assert above["other_tail"] == pytest.approx(25.0)
  assert above["gap"] == pytest.approx(1.0)
  # SE: the point's 0.1 and the midpoint's hypot(0.05, 0.05).
  assert above["se"] == pytest.approx((0.01 + 0.005) ** 0.5)
  assert above["verdict"] == "above"
  assert level["verdict"] == "level"
  assert below["other_tail"] == pytest.approx(28.0)
  assert below["verdict"] == "below"
  assert outside["verdict"] == "outside" and outside["gap"] is None


def test_compare_at_an_existing_point_uses_it():
  (row,) = frontier.compare([_point(5, 50.0, 20.0)], OTHER, 50)
  assert row["other_tail"] == pytest.approx(20.0)
  assert row["verdict"] == "level"


def test_table_and_comparison_text():
  curves = {"cdn": [_point(5, 45.0, 26.0)], "two_tower": OTHER}
  text = frontier.table(curves, 50)
  assert "cdn" in text and "k=5" in text and "26.00 ± 0.10" in text
  found = frontier.comparisons(curves, 50)
  assert list(found) == ["two_tower"]
  assert "gap +1.00" in frontier.comparison_text(found)
  assert "above" in frontier.comparison_text(found)


@pytest.mark.parametrize("kwargs,message", [
    ({"methods": ("udn",)}, "'udn' has no head/tail knob"),
    ({"overrides": {"gamma": 3.0}}, "drop --set gamma"),
    ({"sweeps": {"two_tower": (0.5,)}}, "not among --methods"),
    ({"sweeps": {"cdn": (0.5,)}}, "gamma must be > 1"),
    ({"posthoc": ("ease",)}, "ease is not one"),
    ({"posthoc_taus": ()}, "names no τ"),
])
def test_frontier_settings_are_checked_before_training(kwargs, message):
  config = ExperimentConfig(data_dir="d", out_dir="o", frontier=True,
                            **{"methods": ("cdn",), **kwargs})
  with pytest.raises(ConfigError, match=message):
    config.validate()


def test_sweeps_need_the_frontier():
  config = ExperimentConfig(data_dir="d", out_dir="o",
                            sweeps={"cdn": (2.0,)})
  with pytest.raises(ConfigError, match="apply to --frontier"):
    config.validate()


def test_the_run_cache_keys_on_the_code_runs_depend_on():
  from cdnrec.experiment import cache
  files = cache.run_code_files()
  for path in ("models/two_tower.py", "models/modules/sampling.py",
               "components/evaluator/executor.py", "experiment/run.py",
               "core/logit_adjustment.py", "data/readers/__init__.py"):
    assert path in files
  # Editing the harness, its reports or the generator keeps finished runs.
  for path in ("experiment/frontier.py", "experiment/report.py",
               "cli/experiment.py", "data/synthetic.py"):
    assert path not in files
