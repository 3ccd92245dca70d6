"""The generator is deterministic per seed, as skewed as asked, and its
content features carry signal about who likes what."""

import collections
import filecmp
import itertools

import numpy as np
import pytest

from cdnrec.core import atomic
from cdnrec.core.errors import ConfigError
from cdnrec.data import synthetic

SMALL = synthetic.SyntheticConfig(n_users=300, n_items=150,
                                  n_interactions=3000, imbalance_factor=120,
                                  seed=3)


def _read(path):
  fields = atomic.read_header(path)
  return [atomic.parse_row(line, fields, path, n)
          for n, line in atomic.read_numbered_lines(path)]


def _files(directory):
  return [f"{directory}/synthetic.{ext}" for ext in ("inter", "item", "user")]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
  synthetic.generate(SMALL, str(tmp_path / "a"))
  synthetic.generate(SMALL, str(tmp_path / "b"))
  synthetic.generate(synthetic.SyntheticConfig(
      **{**SMALL.__dict__, "seed": 4}), str(tmp_path / "c"))
  for a, b, c in zip(_files(tmp_path / "a"), _files(tmp_path / "b"),
                     _files(tmp_path / "c")):
    assert filecmp.cmp(a, b, shallow=False), a
    assert not filecmp.cmp(a, c, shallow=False), a


@pytest.mark.parametrize("imbalance_factor,n_users,n_interactions",
                         [(20, 150, 900), (120, 300, 3000), (290, 300, 4000)])
def test_imbalance_factor_is_as_asked(tmp_path, imbalance_factor, n_users,
                                      n_interactions):
  config = synthetic.SyntheticConfig(
      **{**SMALL.__dict__, "imbalance_factor": imbalance_factor,
         "n_users": n_users, "n_interactions": n_interactions})
  synthetic.generate(config, str(tmp_path))
  rows = _read(str(tmp_path / "synthetic.inter"))
  counts = collections.Counter(r["item_id"] for r in rows)
  assert len(counts) == config.n_items  # every item is used
  assert max(counts.values()) / min(counts.values()) == imbalance_factor
  # Topping light users up to min_user_interactions adds a few rows; the
  # sparsest case here (6 per user on average) adds the most.
  assert config.n_interactions - 2 <= len(rows) <= 1.2 * config.n_interactions
  per_user = collections.Counter(r["user_id"] for r in rows)
  assert min(per_user.values()) >= config.min_user_interactions
  # Pairs are unique: a user picks an item at most once.
  assert len({(r["user_id"], r["item_id"]) for r in rows}) == len(rows)


def test_content_predicts_choices(tmp_path):
  """Two items of one user share a genre far more often than two random
  items do, so a content tower has something to learn for tail items."""
  synthetic.generate(SMALL, str(tmp_path))
  genres = {r["item_id"]: set(r["genres"])
            for r in _read(str(tmp_path / "synthetic.item"))}
  by_user = collections.defaultdict(list)
  for r in _read(str(tmp_path / "synthetic.inter")):
    by_user[r["user_id"]].append(r["item_id"])
  same_user = [bool(genres[a] & genres[b]) for items in by_user.values()
               for a, b in itertools.combinations(items[:12], 2)]
  rng = np.random.default_rng(0)
  ids = list(genres)
  random_pairs = [bool(genres[a] & genres[b]) for a, b in
                  rng.choice(ids, size=(len(same_user), 2))]
  assert np.mean(same_user) > 1.5 * np.mean(random_pairs)


def test_user_features_predict_tastes(tmp_path):
  """Users sharing an occupation share genres more than users who don't."""
  synthetic.generate(SMALL, str(tmp_path))
  genres = {r["item_id"]: r["genres"]
            for r in _read(str(tmp_path / "synthetic.item"))}
  occupation = {r["user_id"]: r["occupation"]
                for r in _read(str(tmp_path / "synthetic.user"))}
  profile = collections.defaultdict(lambda: np.zeros(len(synthetic.GENRES)))
  index = {g: i for i, g in enumerate(synthetic.GENRES)}
  for r in _read(str(tmp_path / "synthetic.inter")):
    for g in genres[r["item_id"]]:
      profile[r["user_id"]][index[g]] += 1
  users = sorted(profile)
  unit = {u: profile[u] / np.linalg.norm(profile[u]) for u in users}
  same, other = [], []
  for a, b in itertools.combinations(users[:150], 2):
    (same if occupation[a] == occupation[b] else other).append(
        unit[a] @ unit[b])
  assert np.mean(same) > np.mean(other) + 0.05


def test_impossible_sizes_are_refused_clearly():
  with pytest.raises(ValueError, match="needs at least that many users"):
    synthetic.SyntheticConfig(n_users=100, imbalance_factor=500).validate()
  with pytest.raises(ValueError, match="too few for 300 users"):
    synthetic.SyntheticConfig(n_users=300, n_interactions=1000).validate()
  with pytest.raises(ValueError, match="not reachable"):
    synthetic.generate(synthetic.SyntheticConfig(
        n_users=300, n_items=150, n_interactions=9000, imbalance_factor=120),
        "/nonexistent-never-written")


def test_identity_appeal_moves_head_items_off_content():
  # Appeal 1: a head item's appeal is the latent taste alone (uncorrelated
  # with its content's), a tail item's is content alone.
  config = synthetic.SyntheticConfig(n_users=200, n_items=100,
                                     n_interactions=1000,
                                     imbalance_factor=50,
                                     identity_appeal=1.0)
  rng = np.random.default_rng(0)
  world = synthetic._World(config, rng)
  counts = synthetic._zipf_counts(100, 1000, 50.0)
  world.add_identity(counts, 1.0, rng)
  head = np.flatnonzero(world.identity_weight == 1.0)
  tail = np.flatnonzero(world.identity_weight == 0.0)
  assert len(head) == 20 and len(tail) == 80
  appeal = world.affinity(np.arange(100), config.taste_strength)
  world.identity_weight[:] = 0.0
  content = world.affinity(np.arange(100), config.taste_strength)
  corr = [np.corrcoef(appeal[i], content[i])[0, 1] for i in range(100)]
  assert max(abs(corr[i]) for i in head) < 0.5
  np.testing.assert_allclose(appeal[tail], content[tail])


def test_identity_appeal_is_checked_and_names_its_folder():
  with pytest.raises(ConfigError, match=r"identity_appeal must be in \[0, 1\]"):
    synthetic.SyntheticConfig(identity_appeal=1.5).validate()
  assert synthetic.dataset_dir_name(
      synthetic.SyntheticConfig(identity_appeal=0.8)).endswith("-id0.8")
  assert "-id" not in synthetic.dataset_dir_name(synthetic.SyntheticConfig())
