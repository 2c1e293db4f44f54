import pytest

from switchboard_fixture import Switchboard


@pytest.fixture(scope="module")
def server():
    s = Switchboard()
    yield s
    s.stop()
