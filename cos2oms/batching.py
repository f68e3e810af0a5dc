# -*- coding: utf-8 -*-
"""One batcher for every "so many at a time": OMS requests (10 keys), marker deletes (a page), worker-process
chunks. Lazy, so a listing of any size streams through it in constant memory."""


def batched(items, size):
    """``items`` (any iterable) in order, as lists of ``size`` (the last one shorter), pulled lazily."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
