"""Redis store: shared state for IdP workers on several hosts.

Single use is ``SET NX PX``; the counter, first-or-mark and compare-and-set are Lua scripts, so each
is one atomic step on the server whatever number of IdP processes race on it.
"""

from __future__ import annotations

import redis

_PREFIX = "loginload:"
_INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
"""
_FIRST_OR_MARK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 0
"""
_CAS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


class RedisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5.0)
        self._incr = self._r.register_script(_INCR)
        self._cas = self._r.register_script(_CAS)
        self._first_or_mark = self._r.register_script(_FIRST_OR_MARK)

    @staticmethod
    def _k(ns: str, key: str) -> str:
        return f"{_PREFIX}{ns}:{key}"

    def use_once(self, ns: str, key: str, ttl: float) -> bool:
        return bool(self._r.set(self._k(ns, key), "1", nx=True, px=_ms(ttl)))

    def first_or_mark(self, ns: str, key: str, value: str, mark: str, ttl: float) -> bool:
        return bool(self._first_or_mark(keys=[self._k(ns, key)], args=[value, mark, _ms(ttl)]))

    def get(self, ns: str, key: str) -> str | None:
        value = self._r.get(self._k(ns, key))
        return None if value is None else str(value)

    def set(self, ns: str, key: str, value: str, ttl: float) -> None:
        self._r.set(self._k(ns, key), value, px=_ms(ttl))

    def delete(self, ns: str, key: str) -> None:
        self._r.delete(self._k(ns, key))

    def incr(self, ns: str, key: str, ttl: float) -> int:
        return int(self._incr(keys=[self._k(ns, key)], args=[_ms(ttl)]))

    def compare_and_set(self, ns: str, key: str, expected: str, new: str, ttl: float) -> bool:
        return bool(self._cas(keys=[self._k(ns, key)], args=[expected, new, _ms(ttl)]))

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:  # /health reports "store unavailable" (503), not a 500
            return False

    def close(self) -> None:
        self._r.close()
