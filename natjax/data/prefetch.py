"""Batches made ready ahead of the step: a background thread gathers the next batches' rows and
puts them on the devices while the current step runs, so the step never waits for the host."""

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterable, transform: Callable, size: int = 2) -> Iterator:
    """`transform(item)` for each of `items`, in order, computed by one background thread that
    keeps up to `size` results ready. An exception in the thread is raised here, at its item;
    closing the iterator (or dropping it) stops the thread."""
    ready: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def offer(value) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not offer(transform(item)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there.
            offer(_Failed(error))
            return
        offer(_DONE)

    thread = threading.Thread(target=work, name="natjax-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            value = ready.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        stop.set()
        thread.join()
