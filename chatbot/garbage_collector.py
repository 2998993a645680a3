"""The garbage collector of a long-running process (web processes and Celery workers).

Python's default thresholds (700,10,10) suit short scripts. A web process with 1,000 sockets open
tracks 400,000-600,000 objects, and a worker with the sentence encoder loaded about 520,000: under
load the defaults ran a full collection about once a second, each stopping the process for
0.3-0.4 s (bench/README.md, "Stop 23"). Once a process has loaded what it needs to serve, what it
loaded is frozen (no collection scans it again), and the young generation is made large enough
for the objects of the requests in flight to die there rather than be promoted into the old one.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def garbage_collector_tune(thresholds: tuple[int, ...]) -> None:
    """Freeze the objects alive now and set the collector's `thresholds`; nothing for () (Python's
    defaults). Call once the process has loaded what it serves with (again after a later load)."""
    if not thresholds:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    logger.info("garbage collector: %d objects frozen, thresholds %s", gc.get_freeze_count(), thresholds)
