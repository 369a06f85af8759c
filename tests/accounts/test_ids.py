import threading

from accounts.ids import uuid7


def test_uuid7_is_version_7_and_strictly_increasing_within_a_process():
    ids = [uuid7() for _ in range(20_000)]  # many share a millisecond
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_from_several_threads_stays_unique():
    results: list = []

    def make():
        results.extend(uuid7() for _ in range(5_000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 20_000
