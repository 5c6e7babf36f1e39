"""Users: many small classes, module-level functions."""
import pytest


class TestNames:
    def test_strip(self):
        assert " ann ".strip() == "ann"

    def test_title(self):
        assert "ann lee".title() == "Ann Lee"


class TestEmails:
    @pytest.mark.parametrize("email", ["a@example.com", "b.c@example.org", "ünï@example.com"])
    def test_valid(self, email):
        assert "@" in email

    def test_invalid(self):
        assert "@" not in "nobody"


def test_ids_unique():
    assert len({1, 2, 3}) == 3


def test_sorted():
    assert sorted([3, 1, 2]) == [1, 2, 3]
