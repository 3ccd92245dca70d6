"""The γ-adapter of CDN §3.3: α_t = 1 − (t / (γ T))², γ > 1."""

import tensorflow as tf

EPOCH = "epoch"
STEP = "step"


def alpha(t, total, gamma: float):
  """α_t for progress t of total (both epochs, or both steps).

  Starts near 1 (learn the original distribution first) and decays to
  1 − 1/γ² at t = T, so the main branch keeps the larger weight throughout
  (γ > 1).
  """
  if gamma <= 1:
    raise ValueError(f"gamma must be > 1 (CDN Eq. 6), got {gamma}")
  ratio = tf.cast(t, tf.float32) / (gamma * tf.cast(total, tf.float32))
  return 1.0 - tf.square(ratio)


def alpha_at_step(step, steps_per_epoch: int, epochs: int, gamma: float,
                  unit: str = EPOCH):
  """α for a 0-based optimizer step.

  unit="epoch" (default) is the reading of Algorithm 1: t = 1..T is the
  epoch, α is constant within an epoch (t = epoch index + 1).
  unit="step" decays α every step: t / T = (step + 1) / (steps per epoch · T).
  """
  step = tf.cast(step, tf.float32)
  if unit == EPOCH:
    return alpha(tf.floor(step / steps_per_epoch) + 1.0, epochs, gamma)
  if unit == STEP:
    return alpha(step + 1.0, steps_per_epoch * epochs, gamma)
  raise ValueError(f"alpha unit must be {EPOCH!r} or {STEP!r}, got {unit!r}")
