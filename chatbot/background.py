"""Work that follows a committed change but must not hold up the request or the reply (re-embedding
an edited FAQ, scoring a message's sentiment), run per settings.CHATBOT_DISPATCH: queued for a
Celery worker (`celery`), on a thread of this process (`inprocess`, the embedded demo), or right
here (`inline`, tests and scripts)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def background_dispatch(*, task: str, run: Callable[[int], object], argument: int, what: str) -> None:
    """`task`: the dotted path of the Celery task (imported only when used); `run`: the same work
    as a function of `argument`; `what`: for thread names and logs, e.g. "faq-embed"."""
    mode = settings.CHATBOT_DISPATCH
    if mode == "celery":
        try:
            import_string(task).delay(argument)
        except Exception:
            # The broker is unreachable: the change is committed, this derived work is redone later.
            logger.warning("could not queue %s for %s", what, argument, exc_info=True)
    elif mode == "inline":
        run(argument)
    else:
        threading.Thread(target=_run_logged, args=(run, argument, what), name=f"{what}-{argument}", daemon=True).start()


def _run_logged(run: Callable[[int], object], argument: int, what: str) -> None:
    close_old_connections()
    try:
        run(argument)
    except Exception:
        # The change itself is committed; this is derived work that a later run redoes.
        logger.exception("%s for %s failed", what, argument)
    finally:
        close_old_connections()
