"""Three classes of two tests: with --group-by class, 8 nodes leave at least 5 with no test."""


class TestAlpha:
    def test_one(self):
        assert 1 + 1 == 2

    def test_two(self):
        assert "alpha".upper() == "ALPHA"


class TestBeta:
    def test_one(self):
        assert sorted([3, 1, 2]) == [1, 2, 3]

    def test_two(self):
        assert len("beta") == 4


class TestGamma:
    def test_one(self):
        assert {"g": 1}["g"] == 1

    def test_two(self):
        assert max(4, 7) == 7
