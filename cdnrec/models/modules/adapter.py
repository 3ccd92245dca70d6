"""The γ-adapter of CDN §3.3: α_t = 1 − (t / (γ T))², γ > 1."""

import tensorflow as tf

EPOCH = "epoch"
STEP = "step"

# How α_t evolves: CDN's γ-adapter (Eq. 6), BBN's cumulative learning
# (γ = 1, α_T = 0) or a constant (BDN: 0.5).
GAMMA = "gamma"
BBN = "bbn"
CONSTANT = "constant"


def alpha(t, total, gamma: float, allow_gamma_one: bool = False):
  """α_t for progress t of total (both epochs, or both steps).

  Starts near 1 (learn the original distribution first) and decays to
  1 − 1/γ² at t = T, so the main branch keeps the larger weight throughout
  (γ > 1).
  """
  if gamma < 1 or (gamma == 1 and not allow_gamma_one):
    raise ValueError(f"gamma must be > 1 (CDN Eq. 6), got {gamma}")
  ratio = tf.cast(t, tf.float32) / (gamma * tf.cast(total, tf.float32))
  return 1.0 - tf.square(ratio)


def alpha_at_step(step, steps_per_epoch: int, epochs: int, gamma: float,
                  unit: str = EPOCH, schedule: str = GAMMA,
                  constant: float = 0.5):
  """α for a 0-based optimizer step.

  unit="epoch" (default) is the reading of Algorithm 1: t = 1..T is the
  epoch, α is constant within an epoch (t = epoch index + 1).
  unit="step" decays α every step: t / T = (step + 1) / (steps per epoch · T).
  """
  step = tf.cast(step, tf.float32)
  if schedule == CONSTANT:
    return tf.constant(constant, tf.float32)
  if schedule not in (GAMMA, BBN):
    raise ValueError(f"schedule must be {GAMMA!r}, {BBN!r} or {CONSTANT!r}, "
                     f"got {schedule!r}")
  gamma, bbn = (1.0, True) if schedule == BBN else (gamma, False)
  if unit == EPOCH:
    return alpha(tf.floor(step / steps_per_epoch) + 1.0, epochs, gamma, bbn)
  if unit == STEP:
    return alpha(step + 1.0, steps_per_epoch * epochs, gamma, bbn)
  raise ValueError(f"alpha unit must be {EPOCH!r} or {STEP!r}, got {unit!r}")
