"""A module fixture, and a test that needs what --setup made."""
import os

import pytest


@pytest.fixture(scope="module")
def connection():
    return {"open": True}


def test_uses_connection(connection):
    assert connection["open"]


def test_setup_ran():
    marker = os.environ.get("SETUP_MARKER")
    if marker is None:
        pytest.skip("no SETUP_MARKER")
    assert os.path.exists(marker), "--setup did not run first"


def test_error_in_fixture(broken):
    pass


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")
