"""Needs an optional dependency that is not installed: pytest skips the module while collecting."""

import pytest

pytest.importorskip("a_module_that_is_not_installed")


def test_never_collected():
    pass
