"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback)."""


class GankitError(Exception):
    """Base class for errors caused by user input or user files, not by a bug."""


class DataError(GankitError):
    """A dataset file is missing, corrupt or malformed."""


class ConfigError(GankitError):
    """A recipe or --set override has an unknown key or a bad value."""


class TrainingDiverged(GankitError):
    """A loss or a weight became NaN or infinite."""
