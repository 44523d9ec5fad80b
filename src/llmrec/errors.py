"""User-facing error type: anything raised as `LLMRecError` is shown as one line by the CLI."""

from __future__ import annotations


class LLMRecError(Exception):
    """An error caused by input or environment, with a message that says what and where."""


class ConfigError(LLMRecError):
    """A config file or option is malformed or names something unknown."""


class DataError(LLMRecError):
    """A dataset file is missing or malformed, or a split is empty."""


class TrainingError(LLMRecError, FloatingPointError):
    """Training diverged (a NaN or infinite loss): the settings, not the code, need changing."""
