"""What the terminal gets: progress bars only where they can be drawn.

A progress bar is a stream of carriage-return frames; in a log file (``spikehls run > log 2>&1``,
a CI job, a batch system) it is hundreds of garbage lines. Bars are drawn only when their stream
(stderr, where tqdm draws) is a terminal; the per-epoch lines the stages print are kept either way.
"""

from __future__ import annotations

import sys
from typing import IO, Optional


def bars_on(progress: bool = True, stream: Optional[IO] = None) -> bool:
    """True when progress bars are wanted (``progress``) and ``stream`` (default stderr) is a terminal."""
    if not progress:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False
