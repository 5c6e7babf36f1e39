"""Classes with expensive class fixtures: each must run once, in the process of its tests."""
import os

import pytest


def record(what):
    log = os.environ.get("FIXTURE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{what} {os.getpid()}\n")


class TestAccounts:
    @classmethod
    def setup_class(cls):
        record("setup_class TestAccounts")

    def test_open(self):
        record("test TestAccounts")

    def test_deposit(self):
        record("test TestAccounts")
        assert 1 + 1 == 2

    def test_overdraft(self):
        record("test TestAccounts")
        print("balance: -10")
        assert -10 >= 0, "overdraft allowed"


class TestLedger:
    @classmethod
    def setup_class(cls):
        record("setup_class TestLedger")

    def test_balance(self):
        record("test TestLedger")

    @pytest.mark.skip(reason="not today")
    def test_audit(self):
        pass


def test_free_function():
    pass


@pytest.mark.parametrize("name", ["a b", "x/y", "ünï", "semi;colon", "$(touch pwned)"])
def test_param(name):
    assert name
