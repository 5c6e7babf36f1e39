"""Skips itself while collecting, as a module-level skip does."""

import pytest

pytest.skip("not on this platform", allow_module_level=True)


def test_never_collected():
    pass
