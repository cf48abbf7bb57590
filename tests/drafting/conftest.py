import pytest

from quanhuiqi.drafting import draft_policy


@pytest.fixture
def draft():
    return draft_policy
