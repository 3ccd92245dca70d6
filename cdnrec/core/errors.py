"""Errors that mean "the user's input is wrong", each with a one-line message.

The CLI prints these as `error: <message>` and exits 2; anything else is a
bug and keeps its traceback.
"""


class ConfigError(ValueError):
  """A setting is unknown or out of range; the message names it and what is
  allowed."""
