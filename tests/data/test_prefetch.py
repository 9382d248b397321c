"""The background prefetch (`natjax.data.prefetch`): in order, ahead by a bounded amount,
errors at their item, and a thread that stops when closed."""

import threading
import time

import pytest

from natjax.data.prefetch import prefetch


def test_items_come_in_order_transformed():
    assert list(prefetch(range(10), lambda x: x * x, size=3)) == [x * x for x in range(10)]


def test_the_thread_works_ahead_of_the_consumer_but_at_most_size_items():
    made = []
    ready = prefetch(range(100), lambda x: made.append(x) or x, size=2)
    assert next(ready) == 0
    time.sleep(0.3)  # Room to work ahead: 1 consumed, 2 queued, 1 waiting to be queued.
    assert 3 <= len(made) <= 4
    ready.close()


def test_an_error_in_the_thread_is_raised_at_its_item():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    ready = prefetch(items(), lambda x: x)
    assert next(ready) == 1 and next(ready) == 2
    with pytest.raises(OSError, match="disk gone"):
        next(ready)


def test_closing_early_stops_the_thread():
    ready = prefetch(iter(int, 1), lambda x: x, size=2)  # An endless source.
    next(ready)
    ready.close()
    assert not any(t.name == "natjax-prefetch" for t in threading.enumerate())
