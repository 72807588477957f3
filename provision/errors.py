"""The errors dlws raises on purpose; each maps to a documented exit code."""


class DlwsError(Exception):
    """Base of every error dlws reports as a one-line message."""

    exit_code = 3


class UsageError(DlwsError, ValueError):
    """Bad input from the user: an option, an expression, a snapshot path."""

    exit_code = 2


class SnapshotError(UsageError):
    """A snapshot that is corrupt, not a snapshot, or unsafe to open."""
