"""Named error types. The CLI turns each into one sentence and an exit code."""


class HarnessError(Exception):
    """An error the user can act on; the CLI prints its message without a traceback (exit 1)."""

    exit_code = 1


class UsageError(HarnessError):
    """A wrong name, a bad option or a missing path given on the command line (exit 2)."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A model, task, metric or dataset name that no plugin registered."""


class DuplicateNameError(HarnessError):
    """Two plugins registered the same name."""


class CapabilityError(UsageError):
    """A task asked a model for a capability the model does not have."""


class DataError(HarnessError):
    """A dataset file is malformed; the message names the file and the row."""


class LockedError(HarnessError):
    """Another run holds the lock on a results folder."""
