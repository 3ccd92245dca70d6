"""The synthetic log at production size: the generator's model sampled per
interaction, in numpy, so 20M interactions over 1M items take minutes.

`synthetic.generate` scores every (user, item) pair, which is exact but
costs n_users x n_items; above `synthetic.EXACT_PAIR_LIMIT` pairs it hands
over to this module. The model is the same at persona granularity: an item
is chosen by its Zipf-Mandelbrot count, the persona of each of its users by
how well the item's genres and year match the persona's tastes (weighted by
the persona's share of activity), and the user within the persona by
activity. A user who draws the same item twice keeps one; the item's missing
interactions are drawn again, so the counts (and the imbalance factor) stay
as fitted. Light users are topped up with mid-popularity items.
"""

import os
from typing import Tuple

import numpy as np

from cdnrec.core import atomic

# Interactions scored per vector step: bounds the temporary [chunk, personas]
# arrays.
_CHUNK = 1 << 21
_REDRAW_ROUNDS = 8
_INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
  """One draw per row of probs [n, k]."""
  cdf = np.cumsum(probs, axis=1)
  u = rng.random(len(probs))[:, None] * cdf[:, -1:]
  return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


class _Items:
  """Genres (1-3, multi-hot weights), year and title words per item."""

  def __init__(self, n: int, genres: int, first_year: int, last_year: int,
               rng: np.random.Generator):
    popularity = rng.dirichlet(np.full(genres, 2.0))
    self.k = rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15], size=n)
    # Gumbel top-k: k distinct genres per item, weighted by popularity.
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(n, genres))
    order = np.argsort(-keys, axis=1)[:, :3]
    self.genres = order  # the first k of each row are the item's genres
    weights = np.zeros((n, genres))
    for j in range(3):
      has = self.k > j
      weights[np.flatnonzero(has), order[has, j]] = 1.0
    self.weights = weights / self.k[:, None]
    self.year = rng.integers(first_year, last_year + 1, size=n)


def _persona_probabilities(items: _Items, persona_genres: np.ndarray,
                           persona_era: np.ndarray, persona_mass: np.ndarray,
                           strength: float, n_genres: int, rows: np.ndarray
                           ) -> np.ndarray:
  """P(persona | item) for the given item rows: taste match times the
  persona's share of all activity."""
  logits = (strength * n_genres / 4.0 * items.weights[rows] @ persona_genres.T
            - 0.5 * ((items.year[rows][:, None] - persona_era[None, :])
                     / 12.0) ** 2 + np.log(persona_mass)[None, :])
  logits -= logits.max(axis=1, keepdims=True)
  p = np.exp(logits)
  return p / p.sum(axis=1, keepdims=True)


def _draw_users(rng: np.random.Generator, item_of: np.ndarray,
                persona_p_item: np.ndarray, persona_users, persona_cdf
                ) -> np.ndarray:
  """A user for each entry of item_of (indexes into persona_p_item rows)."""
  users = np.empty(len(item_of), dtype=np.int64)
  for start in range(0, len(item_of), _CHUNK):
    rows = item_of[start:start + _CHUNK]
    persona = categorical(rng, persona_p_item[rows])
    for z in range(len(persona_users)):
      at = np.flatnonzero(persona == z)
      if len(at) == 0:
        continue
      cdf = persona_cdf[z]
      pick = np.searchsorted(cdf, rng.random(len(at)) * cdf[-1], side="right")
      users[start + at] = persona_users[z][np.minimum(pick, len(cdf) - 1)]
  return users


def sample_interactions(config, world_rng: np.random.Generator,
                        counts: np.ndarray, genres: int, first_year: int,
                        last_year: int, persona_genres: np.ndarray,
                        persona_era: np.ndarray, user_persona: np.ndarray,
                        user_activity: np.ndarray
                        ) -> Tuple[np.ndarray, np.ndarray, _Items]:
  """(users, items) of the log, deduplicated, plus the items' content."""
  rng = world_rng
  items = _Items(config.n_items, genres, first_year, last_year, rng)
  p = len(persona_genres)
  persona_users = [np.flatnonzero(user_persona == z) for z in range(p)]
  persona_cdf = [np.cumsum(user_activity[u]) if len(u) else np.zeros(1)
                 for u in persona_users]
  mass = np.array([c[-1] if len(u) else 0.0
                   for c, u in zip(persona_cdf, persona_users)])
  mass = np.maximum(mass, 1e-12) / max(mass.sum(), 1e-12)
  persona_p_item = np.empty((config.n_items, p))
  for start in range(0, config.n_items, _CHUNK):
    rows = np.arange(start, min(start + _CHUNK, config.n_items))
    persona_p_item[rows] = _persona_probabilities(
        items, persona_genres, persona_era, mass, config.taste_strength,
        genres, rows)

  n_users = config.n_users
  wanted = counts.copy()
  pairs = np.empty(0, dtype=np.int64)
  for _ in range(_REDRAW_ROUNDS):
    item_of = np.repeat(np.arange(config.n_items), wanted)
    if len(item_of) == 0:
      break
    users = _draw_users(rng, item_of, persona_p_item, persona_users,
                        persona_cdf)
    pairs = np.unique(np.concatenate([pairs, item_of * n_users + users]))
    have = np.bincount(pairs // n_users, minlength=config.n_items)
    # An item can't have more distinct users than exist.
    wanted = np.maximum(np.minimum(counts, n_users) - have, 0)

  # Top up light users with mid-popularity items (never the rarest or the
  # most popular, so max/min stays the fitted imbalance factor).
  per_user = np.bincount(pairs % n_users, minlength=n_users)
  need = np.maximum(config.min_user_interactions - per_user, 0)
  ceiling = counts.max()
  eligible = np.flatnonzero((counts > counts.min()) & (counts < ceiling // 2))
  if need.any() and len(eligible):
    weights = counts[eligible].astype(np.float64)
    for _ in range(_REDRAW_ROUNDS):
      needy = np.repeat(np.arange(n_users), need)
      if len(needy) == 0:
        break
      picks = eligible[np.searchsorted(np.cumsum(weights),
                                       rng.random(len(needy)) * weights.sum(),
                                       side="right").clip(0, len(eligible) - 1)]
      pairs = np.unique(np.concatenate([pairs, picks * n_users + needy]))
      per_user = np.bincount(pairs % n_users, minlength=n_users)
      need = np.maximum(config.min_user_interactions - per_user, 0)
  return pairs % n_users, pairs // n_users, items


def write_interactions(path: str, users: np.ndarray, items: np.ndarray,
                       ratings: np.ndarray, times: np.ndarray) -> None:
  """The .inter file, oldest first, written under a temporary name."""
  order = np.argsort(times, kind="stable")
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(_INTER_HEADER)
    for start in range(0, len(order), _CHUNK):
      at = order[start:start + _CHUNK]
      f.write("".join(
          f"u{u}\ti{i}\t{r}.0\t{t}.0\n" for u, i, r, t in zip(
              users[at].tolist(), items[at].tolist(), ratings[at].tolist(),
              times[at].tolist())))
  os.replace(tmp, path)


def write_table(path: str, fields, columns) -> None:
  """A side file from parallel column lists (token_seq columns hold lists)."""
  atomic.write_atomic(path, fields, zip(*columns))
