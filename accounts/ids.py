"""Time-ordered UUIDs (RFC 9562 version 7): primary keys that sort by creation, so cursor
pagination is a single-column keyset scan at any depth.

Within one process the ids are strictly increasing: the 12-bit `rand_a` field is a counter
for ids made in the same millisecond (RFC 9562, section 6.2, method 1), so rows created one
after another sort in that order even within a millisecond."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_MAX_STEP_BACK_MS = 10_000


def uuid7() -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        # A small step back of the clock keeps the order; a large one (minutes: a reset
        # clock, or a test travelling in time) is taken as the new time.
        if _last_ms - _MAX_STEP_BACK_MS <= ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)
