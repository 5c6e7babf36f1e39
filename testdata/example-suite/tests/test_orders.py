"""Orders: a module fixture, a real failure, a flaky test and some slow ones."""
import os
import time

import pytest


@pytest.fixture(scope="module")
def ledger():
    return {"orders": [10, 20, 30]}


def test_total(ledger):
    assert sum(ledger["orders"]) == 60


def test_discount(ledger):
    # A genuine bug, so that the pipeline shows a failure.
    assert sum(ledger["orders"]) * 0.9 == 55, "discount computed wrongly"


def test_flaky_network():
    # Fails on a first attempt, passes when retried: shard-exec --retries 1 reports it flaky.
    if os.environ.get("SHARD_ATTEMPT", "1") == "1":
        raise ConnectionError("connection reset by peer")


@pytest.mark.parametrize("seconds", [0.3, 0.6, 0.9])
def test_slow_report(seconds):
    time.sleep(seconds)


@pytest.mark.skipif(os.name == "posix", reason="only on Windows")
def test_windows_paths():
    pass
