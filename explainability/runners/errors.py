"""Exceptions raised by the runners.

The rule: a ``JobInputError`` is the user's to fix (its message is shown to them verbatim and the
job is not retried); a ``TransientJobError`` is the platform's (the task retries it); anything else
is a bug and surfaces as an internal error.
"""


class JobInputError(Exception):
    """The input (artifact, dataset, parameters) cannot produce a result; the message says why."""


class UnsafeArtifactError(JobInputError):
    """The artifact was refused before loading: checksum mismatch, pickle, or untrusted types."""


class TransientJobError(Exception):
    """A retryable failure (storage or worker hiccup); the same input may succeed later."""
