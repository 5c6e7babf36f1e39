"""Fails to import: a collection error. Collected only when a test names this directory, with
--continue-on-collection-errors, so that the other tests still run."""

from os import a_name_os_does_not_have  # noqa: F401


def test_never_collected():
    pass
