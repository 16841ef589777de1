"""The one exception type users see.

Every `ForecasterError` message is a single line that names the problem and the fix.
The CLI prints it without a traceback and exits with status 2.
"""


class ForecasterError(Exception):
    """Bad input or an unusable environment, with the fix in the message."""

    exit_code = 2


class DataError(ForecasterError):
    """The data cannot be used as given (missing column, duplicates, too short...)."""


class ConfigError(ForecasterError):
    """A flag or config value is invalid."""


class SourceError(ForecasterError):
    """A data source failed (unknown ticker, no network and no cache...)."""
