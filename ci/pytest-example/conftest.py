import pytest


@pytest.fixture
def fails_with():
    """Asserts that calling ``call`` fails the test with ``words`` in the message."""

    def check(call, words):
        with pytest.raises(pytest.fail.Exception) as failed:
            call()
        assert words in str(failed.value), str(failed.value)

    return check
