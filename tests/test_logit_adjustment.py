"""Post-hoc logit adjustment: the extra dimension scores exactly
u·v − τ·T·log π, and τ moves the ranking towards rare items."""

import numpy as np
import pytest

from cdnrec.core import logit_adjustment
from cdnrec.core import metrics


def test_adjusted_vectors_score_the_adjusted_logits():
  rng = np.random.default_rng(0)
  users = rng.normal(size=(5, 4)).astype(np.float32)
  items = rng.normal(size=(7, 4)).astype(np.float32)
  prior = logit_adjustment.log_prior(np.array([50, 20, 10, 5, 2, 1, 0]))
  tau, temperature = 0.7, 0.1
  scores = (logit_adjustment.adjusted_users(users) @
            logit_adjustment.adjusted_items(items, prior, tau,
                                            temperature).T)
  expected = users @ items.T - tau * temperature * prior[None, :]
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_log_prior_is_finite_and_ordered():
  prior = logit_adjustment.log_prior(np.array([3, 1, 0]))
  assert np.all(np.isfinite(prior))
  assert prior[0] > prior[1] > prior[2]
  # Add-one smoothing: (n + 1) / (N + n_items).
  np.testing.assert_allclose(np.exp(prior), [4 / 7, 2 / 7, 1 / 7])


def test_tau_zero_keeps_the_ranking_and_a_large_tau_prefers_rare_items():
  users = np.array([[1.0, 0.0]], np.float32)
  # Item 0 (popular) scores a little above item 1 (rare) as trained.
  items = np.array([[1.0, 0.0], [0.95, 0.1]], np.float32)
  prior = logit_adjustment.log_prior(np.array([1000, 1]))

  def rank_of_rare(tau):
    return metrics.blocked_ranks(
        logit_adjustment.adjusted_users(users),
        logit_adjustment.adjusted_items(items, prior, tau, 0.1),
        np.array([1]), np.zeros(0, np.int64), np.zeros(0, np.int64))[0]

  assert rank_of_rare(0.0) == 1
  assert rank_of_rare(1.0) == 0


@pytest.mark.parametrize("kwargs,message", [
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"log_prior_": np.zeros(3)}, "3 priors for 2 items"),
])
def test_bad_arguments_are_refused(kwargs, message):
  args = {"item_vectors": np.zeros((2, 4), np.float32),
          "log_prior_": np.zeros(2), "tau": 1.0, "temperature": 0.1,
          **kwargs}
  with pytest.raises(ValueError, match=message):
    logit_adjustment.adjusted_items(**args)
