"""Ordinary tests beside the modules that pytest skips while collecting."""

import pytest


class TestAccount:
    def test_open(self):
        assert [] == []

    def test_close(self):
        assert not {}

    @pytest.mark.skip(reason="skipped at run time, not while collecting")
    def test_later(self):
        pass


class TestLedger:
    def test_sum(self):
        assert sum([1, 2]) == 3

    def test_fails(self):
        assert 1 + 1 == 3


def test_free_function():
    assert "a".upper() == "A"
