"""The cache backend: Django's Redis cache that keeps answering while Redis is away.

What the cache holds here can be lost: rate-limit counters (API throttles, the portal's code
sign-in limits), the dashboard's trend figures, language lookups. Django's own `RedisCache`
raises when Redis does not answer, which turned every API request into a 500 while Redis
restarted (found by `bench/chaos.py`). This one logs the outage once a minute and answers as
an empty cache: reads miss, writes are dropped, a counter starts again at its first value. Rate
limits therefore do not hold while Redis is down (the sign-in lock-out does: it counts in the
database), which we prefer to refusing every request. Connections time out after a second
(`OPTIONS` in `settings.CACHES`), so a hanging Redis costs a request one second, not a worker.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

T = TypeVar("T")
_OUTAGE = (redis.ConnectionError, redis.TimeoutError)
_last_warning = 0.0


def _warn(operation: str, error: Exception) -> None:
    global _last_warning  # one warning a minute per process
    now = time.monotonic()
    if now - _last_warning >= 60:
        _last_warning = now
        logger.warning("Cache unreachable (%s: %s); answering as an empty cache", operation, error)


def _degrades_to(fallback: Callable[..., Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Runs the cache operation; when Redis is away, returns `fallback(*args, **kwargs)`."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> T:
            try:
                return method(self, *args, **kwargs)
            except _OUTAGE as error:
                _warn(method.__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _delta(key: Any, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


class PooledRedisCacheClient(RedisCacheClient):
    """Django's client of the cache's Redis, keeping one `redis.Redis` per connection pool.
    Django's builds a new one for every operation, and redis-py's constructor copies its
    table of some 200 reply parsers and makes an event dispatcher each time: more CPU than
    the round trip to a local Redis. A `redis.Redis` over a pool is safe to share."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient

    get = _degrades_to(_default)(RedisCache.get)
    get_many = _degrades_to(lambda *a, **k: {})(RedisCache.get_many)
    has_key = _degrades_to(lambda *a, **k: False)(RedisCache.has_key)
    add = _degrades_to(lambda *a, **k: True)(RedisCache.add)
    set = _degrades_to(lambda *a, **k: None)(RedisCache.set)
    set_many = _degrades_to(lambda *a, **k: [])(RedisCache.set_many)
    touch = _degrades_to(lambda *a, **k: False)(RedisCache.touch)
    delete = _degrades_to(lambda *a, **k: False)(RedisCache.delete)
    delete_many = _degrades_to(lambda *a, **k: None)(RedisCache.delete_many)
    incr = _degrades_to(_delta)(RedisCache.incr)
    decr = _degrades_to(lambda key, delta=1, *a, **k: -delta)(RedisCache.decr)
    clear = _degrades_to(lambda *a, **k: None)(RedisCache.clear)
