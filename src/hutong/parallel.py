"""Ordered work in forked processes, with a bounded number of tasks in flight.

``Pool.imap`` reads its whole input ahead (a feeder thread drains the iterator), which would
pull an entire file into memory; here at most ``ahead`` tasks wait, so memory follows the
batch size, and results come back in input order, so outputs do not depend on ``workers``.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, ahead: int | None = None
) -> Iterator[R]:
    """``map(fn, items)`` in ``workers`` forked processes (in this one when ``workers`` ≤ 1).

    ``fn`` and each item are pickled to the workers; ``ahead`` (default twice the workers)
    bounds the items read but not yet returned."""
    if workers <= 1:
        yield from map(fn, items)
        return
    ahead = ahead or 2 * workers
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.apply_async(fn, (item,)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


class Beside:
    """``fn(*args)`` in a forked process while this one goes on (a file written beside other
    work); :meth:`wait` joins it and raises if it failed, :meth:`result` also returns what it
    returned (pickled back through a pipe). Nothing is pickled on the way there: the child has
    the arguments by the fork. With ``forked=False`` the call runs here, at once."""

    def __init__(self, fn: Callable[..., object], *args: object, forked: bool = True) -> None:
        self.name = getattr(fn, "__name__", "task")
        self._child = None
        self._value: object = None
        if not forked:
            self._value = fn(*args)
            return
        context = multiprocessing.get_context("fork")
        self._pipe, sending = context.Pipe(duplex=False)
        self._child = context.Process(target=_send, args=(sending, fn, args))
        self._child.start()
        sending.close()  # the child's end: closed here, so a failed child reads as EOF

    def wait(self) -> None:
        self.result()

    def result(self) -> object:
        """What ``fn`` returned (once the child has finished)."""
        if self._child is None:
            return self._value
        with suppress(EOFError):  # the child died before sending (its exit code says why)
            self._value = self._pipe.recv()  # before join: a big result fills the pipe
        self._pipe.close()
        self._child.join()
        if self._child.exitcode != 0:
            raise RuntimeError(f"{self.name} failed in its process (exit {self._child.exitcode})")
        self._child = None
        return self._value


def _send(pipe, fn: Callable[..., object], args: tuple) -> None:
    pipe.send(fn(*args))
    pipe.close()
