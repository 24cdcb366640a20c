"""User-facing errors.

Anything a user can cause (bad config, missing dataset, unknown board, unsupported op) raises
:class:`SpikehlsError`. The CLI prints it as one line starting with ``error:`` and exits with
code 2; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SpikehlsError(Exception):
    """An error caused by user input; ``str(err)`` is the whole one-line message."""

    exit_code = 2

    def __init__(self, message: str):
        # keep it one line whatever the caller passed
        super().__init__(" ".join(str(message).split()))
