# -*- coding: utf-8 -*-
"""The one batcher: order and sizes kept, nothing dropped, and pulled lazily (a listing streams through it)."""
import itertools

from cos2oms.batching import batched


def test_batches_keep_order_and_size():
    keys = list(range(23))
    assert list(batched(keys, 10)) == [keys[:10], keys[10:20], keys[20:]]
    assert list(batched(iter(keys), 23)) == [keys]
    assert list(batched([], 10)) == []


def test_items_are_pulled_only_as_batches_are_taken():
    pulled = []

    def endless():
        for n in itertools.count():
            pulled.append(n)
            yield n

    first = next(batched(endless(), 3))
    assert first == [0, 1, 2] and pulled == [0, 1, 2]
