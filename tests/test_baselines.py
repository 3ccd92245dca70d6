"""The non-neural baselines of `cdnrec experiment`: EASE's closed form,
MostPopular's tie-breaking, both scored by the Evaluator's ranking on tiny
generated data, and EASE refused above the catalog size that fits."""

import os

import numpy as np
import pytest
import scipy.sparse

from cdnrec.core.errors import ConfigError
from cdnrec.experiment import baselines
from cdnrec.experiment import data as data_lib


@pytest.fixture(scope="module")
def prepared(tiny_artifacts):
  return data_lib.PreparedData(os.path.dirname(tiny_artifacts["examples"].uri))


def test_ease_solves_its_constrained_least_squares():
  """(G + λI) B = G - diag(μ) for some μ: off its diagonal the gradient of
  ||X - XB||² + λ||B||² vanishes, and diag(B) = 0."""
  rng = np.random.default_rng(0)
  x = (rng.random((40, 12)) < 0.3).astype(float)
  l2 = 5.0
  gram = x.T @ x
  b = baselines.ease_weights(gram, l2)
  residual = (gram + l2 * np.eye(12)) @ b - gram
  off = ~np.eye(12, dtype=bool)
  np.testing.assert_allclose(residual[off], 0.0, atol=1e-9)
  np.testing.assert_array_equal(np.diag(b), 0.0)


def test_ease_user_form_scores_as_b_outside_each_users_own_items():
  """Users fewer than items: the Woodbury form's scores are X_u B on every
  item the user has not interacted with, for each user."""
  rng = np.random.default_rng(1)
  x = (rng.random((9, 30)) < 0.25).astype(float)
  x[:, 7] = 0.0  # an item nobody interacted with
  l2 = 3.0
  b = baselines.ease_weights(x.T @ x, l2)
  m, weights = baselines.ease_user_form(scipy.sparse.csr_matrix(x), l2)
  np.testing.assert_allclose(m, np.linalg.inv(x @ x.T + l2 * np.eye(9)))
  assert weights.shape == (30, 9) and weights.dtype == np.float32
  unseen = x == 0
  np.testing.assert_allclose((m @ weights.T)[unseen], (x @ b)[unseen],
                             rtol=1e-5, atol=1e-6)
  # The two differ on a user's own items: the user form is not B itself.
  assert not np.allclose((m @ weights.T)[~unseen], (x @ b)[~unseen])


@pytest.mark.parametrize("l2", [1.0, 10.0])
def test_ease_forms_rank_alike(prepared, l2):
  """Both forms through the Evaluator on the same data: the same metrics
  on both splits, slice by slice, at the grid's smallest λ too (where
  float32 scores are least well conditioned)."""
  data = baselines._Interactions(prepared)
  by_form = []
  for user_form in (False, True):
    embed, item_vectors = baselines.ease_scorer(data, l2, user_form)
    by_form.append(baselines._evaluate(prepared, embed, data.item_ids,
                                       item_vectors, 10, ("eval", "test")))
  for split in ("eval", "test"):
    for name in ("overall", "head", "tail"):
      items_form, users_form = (m[split][name] for m in by_form)
      assert items_form["count"] == users_form["count"] > 0
      assert items_form["hr"] == pytest.approx(users_form["hr"], abs=1e-12)
      assert items_form["ndcg"] == pytest.approx(users_form["ndcg"],
                                                 abs=1e-6)


def test_ease_is_refused_above_the_size_that_fits():
  # Items no more than users: three item x item matrices.
  baselines.check_size("ease", 10 ** 6, 20_000)
  with pytest.raises(ConfigError, match=r"ease: the train split has "
                     r"1,000,000 users and 20,001 items; .* dense 20,001 x "
                     r"20,001 matrices \(9\.6 GB\), more than the 9\.6 GB"):
    baselines.check_size("ease", 10 ** 6, 20_001)
  # Fewer users: a wide catalog fits, a user x user inverse does not.
  baselines.check_size("ease", 2_000, 10 ** 5)
  with pytest.raises(ConfigError, match=r"dense 30,000 x 30,000 and "
                     r"100,000 x 30,000 matrices \(33\.6 GB\)"):
    baselines.check_size("ease", 30_000, 10 ** 5)
  # The form is the one needing less memory: 19,000 users and 19,500
  # items fit as items (9.1 GB), not as users (10.1 GB).
  assert not baselines.use_user_form(19_000, 19_500)
  baselines.check_size("ease", 19_000, 19_500)
  assert baselines.use_user_form(2_000, 3_000)
  baselines.check_size("most_popular", 10 ** 7, 10 ** 7)  # no matrix


def test_most_popular_ranks_by_train_frequency(prepared):
  result = baselines.run("most_popular", prepared, 10, {})
  assert result.config == {"model": "most_popular"}
  for split in ("eval", "test"):
    overall = result.metrics[split]["overall"]
    assert overall["count"] > 0 and 0.0 < overall["hr"] <= 1.0
  # Popular items are head items: head recall far above tail recall.
  test = result.metrics["test"]
  assert test["head"]["hr"] > test["tail"]["hr"]


def test_ease_scores_users_by_their_own_items(prepared):
  strong = baselines.run("ease", prepared, 10, {"l2": 10.0})
  assert strong.config == {"model": "ease", "l2": 10.0}
  popular = baselines.run("most_popular", prepared, 10, {})
  # Personal scores beat one list for everybody on this data.
  assert (strong.metrics["test"]["overall"]["ndcg"] >
          popular.metrics["test"]["overall"]["ndcg"])


def test_ties_never_favour_the_target(prepared):
  """The Evaluator counts only items strictly above the target: scores
  must not tie in its favour. MostPopular's are distinct; EASE ranks items
  it never saw in training last and gives users without history the
  popularity order."""
  data = baselines._Interactions(prepared)
  counts = np.bincount(data.columns, minlength=len(data.item_ids))
  assert len(set(counts.tolist())) < len(counts)  # the data has ties
  popularity = data.popularity_order()
  assert len(set(popularity.tolist())) == len(popularity)
  assert popularity[np.argmax(counts)] == len(counts)
  # A user with no train items (an unknown id) and a known one.
  import tensorflow as tf
  known = data.user_ids[0].as_py()
  rows = data.user_rows([
      tf.train.Example(features=tf.train.Features(feature={
          "user_id": tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[u.encode()]))})).SerializeToString()
      for u in ("nobody", known)])
  n = len(data.item_ids)
  assert rows[0, :n].sum() == 0 and rows[0, n:].tolist() == [1.0, 1.0]
  assert rows[1, :n].sum() > 0 and rows[1, n:].tolist() == [1.0, 0.0]


def test_an_unknown_baseline_is_refused(prepared):
  with pytest.raises(ConfigError, match="unknown baseline 'knn'"):
    baselines.run("knn", prepared, 10, {})
