import pytest


@pytest.fixture(autouse=True)
def _fresh_trends(settings):
    """Each test counts its own data: the trends cache is keyed by team ids, which repeat
    from one test database to the next."""
    settings.DASHBOARD_TRENDS_CACHE_SECONDS = 0
