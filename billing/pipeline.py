"""Run a producer of picklable items in a child process and iterate over them here.

The importer on SQLite has two kinds of work per row: Python reads and checks it, then the
database writes it. One process does one after the other, and a thread does not help (the
sqlite3 module takes the GIL back after every row it writes). A forked child reads and checks
while this process writes, so an import on a machine with two cores takes about as long as
the writing alone.

The child gets the producer and its arguments by fork (nothing is pickled but the items it
sends), touches no database connection of the parent and leaves with ``os._exit``. A pipe
carries one item at a time, so at most a couple of items are in flight and memory stays flat.
If forking is not safe (another thread is running: a threaded development server, a test
live server) or not possible, the producer simply runs here, item after item: the results
are the same, only slower.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

_ITEM, _DONE, _FAILED = "item", "done", "failed"


class ChildFailed(RuntimeError):
    """The producer raised in the child process; the message carries its traceback."""


def items(produce: Callable[[], Iterator[Any]], *, parallel: bool = True) -> Iterator[Any]:
    """Yield what ``produce()`` yields, produced in a forked child process when that is safe."""
    if not (parallel and _can_fork()):
        yield from produce()
        return
    receive, send = multiprocessing.Pipe(duplex=False)
    # os.fork, not multiprocessing.Process: that one closes standard input in the child,
    # and "import_readings -" reads the file from there.
    pid = os.fork()
    if pid == 0:  # the child
        _run(produce, send, receive)
    send.close()  # the child holds the only writing end: its exit ends the stream
    try:
        while True:
            try:
                kind, item = receive.recv()
            except EOFError:
                raise ChildFailed("the producer ended early") from None
            if kind == _ITEM:
                yield item
            elif kind == _DONE:
                break
            else:
                raise ChildFailed(item)
    finally:
        receive.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # it has sent everything, or the consumer gave up
        os.waitpid(pid, 0)


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _run(produce, send, receive) -> NoReturn:
    receive.close()
    # The producer makes millions of short-lived, acyclic objects (rows, columns, tuples):
    # reference counting frees them all, and the cyclic collector only spent a third of the
    # child's time walking them. The child lives for one import and exits with os._exit.
    gc.disable()
    try:
        for item in produce():
            send.send((_ITEM, item))
        send.send((_DONE, None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        send.send((_FAILED, traceback.format_exc()))
    finally:
        send.close()
        os._exit(0)  # no atexit hooks: the database connections belong to the parent
