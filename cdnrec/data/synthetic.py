"""Seeded generator of long-tail interaction logs with user and item features.

What makes it useful for a long-tail method:
- Item popularity follows a Zipf-Mandelbrot law `c(r) = C (r + q)^-a` fitted
  so that the most popular item has exactly `imbalance_factor` times the
  interactions of the least popular one and the log has about
  `n_interactions` rows.
- Who interacts with an item comes from latent tastes: every user belongs to
  a persona with preferred genres and a preferred era, and the persona also
  shapes the user's age bucket, gender, occupation and region. An item's
  genres, year and title words (drawn from its genres' vocabularies) decide
  which tastes it matches. So content predicts which tail items a user likes,
  and user features predict tastes.
- `identity_appeal` (0 by default) makes the data show CDN's mechanism
  (docs/results.md, the mechanism check): a head item's appeal becomes,
  with that weight, a taste for the item itself, an inner product of
  random latent factors of the user and the item that no feature reveals,
  while tail items' appeal stays content alone. Then only an item's id can
  tell who likes a head item (memorization) and only its content who likes
  a tail item (generalization).

The output is a RecBole atomic dataset (`synthetic.inter/.item/.user`).
"""

import dataclasses
import math
import os
from typing import Dict, List

import numpy as np

from cdnrec.core import atomic
from cdnrec.core.errors import ConfigError
from cdnrec.data import synthetic_scale

GENRES = ("action", "adventure", "animation", "children", "comedy", "crime",
          "documentary", "drama", "fantasy", "noir", "horror", "musical",
          "mystery", "romance", "scifi", "thriller", "war", "western")
AGE_BUCKETS = ("under18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
GENDERS = ("F", "M")
N_OCCUPATIONS = 21
N_REGIONS = 10
WORDS_PER_GENRE = 25
N_GENERIC_WORDS = 150
FIRST_YEAR, LAST_YEAR = 1930, 2020
# Above this many (user, item) pairs, scoring every pair would take hours
# and more memory than the machine has (the top-up step holds a users x
# items matrix); the log is sampled per interaction instead
# (synthetic_scale.py).
EXACT_PAIR_LIMIT = 10**8
# Share of items (the most popular) whose appeal identity_appeal changes:
# the pipeline's default head fraction.
HEAD_SHARE = 0.2
LATENT_DIM = 16


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """Size and shape of the generated log.

  Attributes:
    n_users: number of users.
    n_items: number of items; every item gets at least one interaction.
    n_interactions: number of (user, item) interactions drawn by popularity;
      topping light users up to min_user_interactions adds a few more.
    imbalance_factor: interactions of the most popular item divided by those
      of the least popular one.
    n_personas: number of latent taste groups.
    taste_strength: how sharply tastes decide choices (0 = at random).
    min_user_interactions: users are topped up to this many interactions so
      that leave-one-out leaves them at least one train item.
    identity_appeal: in [0, 1]: the weight of the latent, feature-free
      taste in a head item's appeal (1 − it stays on content); tail items'
      appeal is content alone. Head items are the HEAD_SHARE most popular.
    seed: random seed; the same config gives the same files.
  """
  n_users: int = 3000
  n_items: int = 2000
  n_interactions: int = 100_000
  imbalance_factor: float = 2000.0
  n_personas: int = 12
  taste_strength: float = 6.0
  min_user_interactions: int = 5
  identity_appeal: float = 0.0
  seed: int = 0

  def validate(self) -> None:
    if not 0.0 <= self.identity_appeal <= 1.0:
      raise ConfigError(f"identity_appeal must be in [0, 1], got "
                        f"{self.identity_appeal}")
    if self.n_users < 3 or self.n_items < 2:
      raise ConfigError(f"need at least 3 users and 2 items, got "
                       f"n_users={self.n_users}, n_items={self.n_items}")
    if self.imbalance_factor < 1:
      raise ConfigError(f"imbalance_factor must be >= 1, got "
                       f"{self.imbalance_factor}")
    if self.n_interactions < self.min_user_interactions * self.n_users:
      raise ConfigError(
          f"n_interactions={self.n_interactions} is too few for "
          f"{self.n_users} users with at least {self.min_user_interactions} "
          f"interactions each; need >= "
          f"{self.min_user_interactions * self.n_users}")
    if self.imbalance_factor > self.n_users:
      raise ConfigError(
          f"imbalance_factor={self.imbalance_factor:g} needs at least that "
          f"many users (the top item is chosen by {self.imbalance_factor:g} "
          f"users when the rarest is chosen by one), got n_users="
          f"{self.n_users}")


def _zipf_counts(n_items: int, total: int, imbalance: float) -> np.ndarray:
  """Integer counts by rank, max/min == imbalance, sum close to total."""
  ranks = np.arange(1, n_items + 1, dtype=np.float64)

  def counts_for(q: float) -> np.ndarray:
    if imbalance == 1:
      return np.ones(n_items)
    a = math.log(imbalance) / math.log((n_items + q) / (1 + q))
    return imbalance * ((1 + q) / (ranks + q)) ** a  # c(1) = IF, c(n) = 1

  low, high = 0.0, 1e7
  smallest, largest = counts_for(low).sum(), counts_for(high).sum()
  if not smallest <= total <= largest:
    raise ConfigError(
        f"n_interactions={total} is not reachable with n_items={n_items} and "
        f"imbalance_factor={imbalance:g}: choose between {int(smallest)} and "
        f"{int(largest)}")
  for _ in range(200):  # the sum grows with q: bisect on a log scale
    mid = math.sqrt(max(low, 1e-9) * high) if low > 0 else high / 1e6
    if counts_for(mid).sum() < total:
      low = mid
    else:
      high = mid
    if high - low < 1e-9 * high:
      break
  counts = np.maximum(1, np.rint(counts_for(high))).astype(np.int64)
  counts[0] = int(round(imbalance))
  counts[-1] = 1
  return counts


class _World:
  """Latent personas, users and items, all drawn from one generator."""

  def __init__(self, config: SyntheticConfig, rng: np.random.Generator):
    g = len(GENRES)
    p = config.n_personas
    self.persona_genres = rng.dirichlet(np.full(g, 0.25), size=p)
    self.persona_era = rng.uniform(FIRST_YEAR + 10, LAST_YEAR - 5, size=p)
    self.persona_age = rng.dirichlet(np.full(len(AGE_BUCKETS), 0.4), size=p)
    self.persona_gender = rng.dirichlet(np.full(len(GENDERS), 1.0), size=p)
    self.persona_occupation = rng.dirichlet(np.full(N_OCCUPATIONS, 0.3), size=p)
    self.persona_region = rng.dirichlet(np.full(N_REGIONS, 0.5), size=p)

    n = config.n_users
    self.user_persona = rng.integers(0, p, size=n)
    self.user_taste = np.stack([
        rng.dirichlet(40 * self.persona_genres[z] + 0.05)
        for z in self.user_persona])
    self.user_era = self.persona_era[self.user_persona] + rng.normal(0, 6, n)
    self.user_activity = rng.lognormal(0.0, 0.6, size=n)

    m = config.n_items
    genre_popularity = rng.dirichlet(np.full(g, 2.0))
    self.item_genres: List[np.ndarray] = []
    multi_hot = np.zeros((m, g))
    for i in range(m):
      k = rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])
      chosen = rng.choice(g, size=k, replace=False, p=genre_popularity)
      self.item_genres.append(np.sort(chosen))
      multi_hot[i, chosen] = 1.0 / k
    self.item_genre_weights = multi_hot
    self.item_year = rng.integers(FIRST_YEAR, LAST_YEAR + 1, size=m)

    self.identity_weight = np.zeros(m)

  def add_identity(self, counts: np.ndarray, appeal: float,
                   rng: np.random.Generator) -> None:
    """Gives the HEAD_SHARE most popular items an appeal that is `appeal`
    parts a latent taste for the item itself (identity_appeal)."""
    head = np.argsort(-counts, kind="stable")[
        :max(1, int(round(HEAD_SHARE * len(counts))))]
    self.identity_weight[head] = appeal
    self.user_latent = rng.normal(size=(len(self.user_era), LATENT_DIM))
    self.item_latent = rng.normal(size=(len(counts), LATENT_DIM))

  def affinity(self, items: np.ndarray, strength: float) -> np.ndarray:
    """Log-weights [len(items), n_users] of each user choosing each item."""
    genre_match = self.item_genre_weights[items] @ self.user_taste.T
    era_gap = (self.item_year[items][:, None] - self.user_era[None, :]) / 12.0
    content = strength * len(GENRES) / 4.0 * genre_match - 0.5 * era_gap**2
    w = self.identity_weight[items][:, None]
    if w.any():
      # The latent taste gets the mean and spread content has for the same
      # item, so the weight alone decides which of the two matters.
      identity = self.item_latent[items] @ self.user_latent.T
      identity = ((identity - identity.mean(axis=1, keepdims=True)) *
                  content.std(axis=1, keepdims=True) /
                  np.maximum(identity.std(axis=1, keepdims=True), 1e-9) +
                  content.mean(axis=1, keepdims=True))
      content = (1.0 - w) * content + w * identity
    return content + np.log(self.user_activity)[None, :]


def _titles(world: _World, rng: np.random.Generator) -> List[List[str]]:
  titles = []
  for genres in world.item_genres:
    words = []
    for _ in range(rng.integers(2, 6)):
      if rng.random() < 0.7:
        genre = GENRES[rng.choice(genres)]
        words.append(f"{genre}{rng.integers(WORDS_PER_GENRE)}")
      else:
        words.append(f"w{rng.integers(N_GENERIC_WORDS)}")
    titles.append(words)
  return titles


def _assign_users(world: _World, counts: np.ndarray, config: SyntheticConfig,
                  rng: np.random.Generator) -> List[np.ndarray]:
  """For each item, picks counts[i] distinct users weighted by affinity.

  Gumbel top-k draws a weighted sample without replacement in one vector op.
  """
  chooser: List[np.ndarray] = []
  chunk = 64
  for start in range(0, config.n_items, chunk):
    items = np.arange(start, min(start + chunk, config.n_items))
    keys = world.affinity(items, config.taste_strength)
    keys += rng.gumbel(size=keys.shape)
    for row, item in enumerate(items):
      c = counts[item]
      chooser.append(np.argpartition(-keys[row], c - 1)[:c])
  return chooser


def _top_up(world: _World, chosen: Dict[int, set], counts: np.ndarray,
            config: SyntheticConfig, rng: np.random.Generator) -> None:
  """Gives light users more items, never a rarest one and never pushing an
  item up to the most popular one's count, so the imbalance factor stays
  exactly as asked."""
  counts = counts.copy()
  ceiling = counts.max()
  eligible = np.flatnonzero((counts > counts.min()) & (counts < ceiling))
  if len(eligible) == 0:
    return
  needy = [u for u in range(config.n_users)
           if len(chosen[u]) < config.min_user_interactions]
  if not needy:
    return
  log_w = world.affinity(eligible, config.taste_strength)[:, needy].T
  log_w += np.log(counts[eligible])[None, :]
  for row, user in enumerate(needy):
    keys = log_w[row] + rng.gumbel(size=len(eligible))
    for idx in np.argsort(-keys):
      if len(chosen[user]) >= config.min_user_interactions:
        break
      item = int(eligible[idx])
      if item in chosen[user] or counts[item] + 1 >= ceiling:
        continue
      chosen[user].add(item)
      counts[item] += 1


_INTER_FIELDS = (atomic.Field("user_id", atomic.FieldType.TOKEN),
                 atomic.Field("item_id", atomic.FieldType.TOKEN),
                 atomic.Field("rating", atomic.FieldType.FLOAT),
                 atomic.Field("timestamp", atomic.FieldType.FLOAT))
_ITEM_FIELDS = (atomic.Field("item_id", atomic.FieldType.TOKEN),
                atomic.Field("title", atomic.FieldType.TOKEN_SEQ),
                atomic.Field("year", atomic.FieldType.TOKEN),
                atomic.Field("genres", atomic.FieldType.TOKEN_SEQ))
_USER_FIELDS = (atomic.Field("user_id", atomic.FieldType.TOKEN),
                atomic.Field("age", atomic.FieldType.TOKEN),
                atomic.Field("gender", atomic.FieldType.TOKEN),
                atomic.Field("occupation", atomic.FieldType.TOKEN),
                atomic.Field("region", atomic.FieldType.TOKEN))
# Each user is active over a window; interaction times are spread in it.
_BASE_TIME = 1_000_000_000
_SPAN = 3 * 365 * 86400


def _paths(out_dir: str) -> Dict[str, str]:
  return {ext: os.path.join(out_dir, f"synthetic.{ext}")
          for ext in ("inter", "item", "user")}


def generate(config: SyntheticConfig, out_dir: str) -> atomic.AtomicDataset:
  """Writes `synthetic.{inter,item,user}` under out_dir and returns them."""
  config.validate()
  if config.n_users * config.n_items > EXACT_PAIR_LIMIT:
    if config.identity_appeal:
      raise ConfigError(
          f"identity_appeal is generated for up to {EXACT_PAIR_LIMIT:.0e} "
          f"(user, item) pairs, got {config.n_users} x {config.n_items}")
    return _generate_by_interaction(config, out_dir)
  rng = np.random.default_rng(config.seed)
  world = _World(config, rng)
  counts = _zipf_counts(config.n_items, config.n_interactions,
                        config.imbalance_factor)
  # Popularity ranks are assigned to items at random.
  counts = counts[rng.permutation(config.n_items)]
  if config.identity_appeal:
    world.add_identity(counts, config.identity_appeal, rng)

  chosen: Dict[int, set] = {u: set() for u in range(config.n_users)}
  for item, users in enumerate(_assign_users(world, counts, config, rng)):
    for u in users:
      chosen[int(u)].add(item)
  _top_up(world, chosen, counts, config, rng)

  base = _BASE_TIME
  starts = rng.integers(0, _SPAN, size=config.n_users)
  windows = rng.integers(86400, 365 * 86400, size=config.n_users)

  os.makedirs(out_dir, exist_ok=True)
  inter_rows = []
  for u in range(config.n_users):
    items = sorted(chosen[u])
    times = base + starts[u] + rng.integers(0, windows[u], size=len(items))
    for item, t in zip(items, times):
      inter_rows.append((f"u{u}", f"i{item}", float(1 + rng.integers(5)),
                         float(t)))
  order = np.argsort([r[3] for r in inter_rows], kind="stable")

  titles = _titles(world, rng)
  item_rows = [(f"i{i}", titles[i], str(world.item_year[i]),
                [GENRES[g] for g in world.item_genres[i]])
               for i in range(config.n_items)]
  user_rows = []
  for u in range(config.n_users):
    z = world.user_persona[u]
    user_rows.append((
        f"u{u}",
        AGE_BUCKETS[rng.choice(len(AGE_BUCKETS), p=world.persona_age[z])],
        GENDERS[rng.choice(len(GENDERS), p=world.persona_gender[z])],
        f"occ{rng.choice(N_OCCUPATIONS, p=world.persona_occupation[z])}",
        f"region{rng.choice(N_REGIONS, p=world.persona_region[z])}",
    ))

  paths = _paths(out_dir)
  atomic.write_atomic(paths["item"], _ITEM_FIELDS, item_rows)
  atomic.write_atomic(paths["user"], _USER_FIELDS, user_rows)
  # The interaction file is written last: its presence marks a complete set.
  atomic.write_atomic(paths["inter"], _INTER_FIELDS,
                      (inter_rows[i] for i in order))
  return atomic.locate(out_dir)


def _generate_by_interaction(config: SyntheticConfig,
                             out_dir: str) -> atomic.AtomicDataset:
  """The same model sampled per interaction (synthetic_scale.py)."""
  rng = np.random.default_rng(config.seed)
  g, p, n = len(GENRES), config.n_personas, config.n_users
  persona_genres = rng.dirichlet(np.full(g, 0.25), size=p)
  persona_era = rng.uniform(FIRST_YEAR + 10, LAST_YEAR - 5, size=p)
  persona_attrs = [rng.dirichlet(np.full(len(AGE_BUCKETS), 0.4), size=p),
                   rng.dirichlet(np.full(len(GENDERS), 1.0), size=p),
                   rng.dirichlet(np.full(N_OCCUPATIONS, 0.3), size=p),
                   rng.dirichlet(np.full(N_REGIONS, 0.5), size=p)]
  user_persona = rng.integers(0, p, size=n)
  user_activity = rng.lognormal(0.0, 0.6, size=n)
  counts = _zipf_counts(config.n_items, config.n_interactions,
                        config.imbalance_factor)
  counts = counts[rng.permutation(config.n_items)]
  users, items, content = synthetic_scale.sample_interactions(
      config, rng, counts, g, FIRST_YEAR, LAST_YEAR, persona_genres,
      persona_era, user_persona, user_activity)

  starts = rng.integers(0, _SPAN, size=n)
  windows = rng.integers(86400, 365 * 86400, size=n)
  times = (_BASE_TIME + starts[users] +
           (rng.random(len(users)) * windows[users]).astype(np.int64))
  os.makedirs(out_dir, exist_ok=True)
  paths = _paths(out_dir)

  words = rng.integers(2, 6, size=config.n_items)
  genre_word = rng.random((config.n_items, 5)) < 0.7
  which_genre = (rng.random((config.n_items, 5)) *
                 content.k[:, None]).astype(np.int64)
  word_id = rng.integers(0, WORDS_PER_GENRE, size=(config.n_items, 5))
  generic_id = rng.integers(0, N_GENERIC_WORDS, size=(config.n_items, 5))
  titles = []
  for i in range(config.n_items):
    titles.append([
        f"{GENRES[content.genres[i, which_genre[i, j]]]}{word_id[i, j]}"
        if genre_word[i, j] else f"w{generic_id[i, j]}"
        for j in range(words[i])])
  synthetic_scale.write_table(paths["item"], _ITEM_FIELDS, [
      [f"i{i}" for i in range(config.n_items)], titles,
      [str(y) for y in content.year.tolist()],
      [[GENRES[x] for x in content.genres[i, :content.k[i]]]
       for i in range(config.n_items)]])
  attrs = [synthetic_scale.categorical(rng, a[user_persona])
           for a in persona_attrs]
  synthetic_scale.write_table(paths["user"], _USER_FIELDS, [
      [f"u{u}" for u in range(n)],
      [AGE_BUCKETS[x] for x in attrs[0].tolist()],
      [GENDERS[x] for x in attrs[1].tolist()],
      [f"occ{x}" for x in attrs[2].tolist()],
      [f"region{x}" for x in attrs[3].tolist()]])
  # The interaction file is written last: its presence marks a complete set.
  synthetic_scale.write_interactions(paths["inter"], users, items,
                                     1 + rng.integers(0, 5, size=len(users)),
                                     times)
  return atomic.locate(out_dir)


def dataset_dir_name(config: SyntheticConfig) -> str:
  """A folder name that changes whenever the generated data would."""
  return (f"synthetic-u{config.n_users}-i{config.n_items}"
          f"-n{config.n_interactions}-if{config.imbalance_factor:g}"
          f"-p{config.n_personas}-t{config.taste_strength:g}"
          f"-m{config.min_user_interactions}-s{config.seed}" +
          (f"-id{config.identity_appeal:g}" if config.identity_appeal
           else ""))
