"""The Redis backend of flujo's seed document tutorial (docs/storage.md,
"The Redis recipe"), as a small flujo ``StateBackend``.

    key   = the run id, as is (no prefix)
    value = json.dumps(safe_serialize(state))      (insertion order)
    load  = safe_deserialize(json.loads(value)), None when the key is missing
    delete = DEL

Run it through the protocol adapter, from the repository root:

    PY=$(bash ci/flujo-venv.sh)
    $PY ci/adapters/flujo_adapter.py ci.redis_recipe_backend:RedisRecipeBackend \\
        '{"url": "redis://127.0.0.1:6379/0"}' --capabilities concurrent,persistent

It writes the keys it is given as they are: point it at a Redis where the
harness's run-id prefix cannot collide with anything else. It needs flujo
0.4.35 and ``redis`` (redis-py, for ``redis.asyncio``).

One departure from a bare ``redis.asyncio.from_url(url)``: the connections
come from a *blocking* pool of ``max_connections`` (default 50), so that more
concurrent requests than connections wait for one. redis-py's default
asyncio pool holds at most 100 connections and raises ``MaxConnectionsError:
Too many connections`` on the 101st concurrent command instead of waiting.
What is stored is the same either way.
"""

import json
from typing import Any, Dict, Optional

import redis.asyncio as aioredis

from flujo.state.backends.base import StateBackend
from flujo.utils.serialization import safe_deserialize, safe_serialize


class RedisRecipeBackend(StateBackend):
    """Workflow state in Redis, one string key per run id."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", max_connections: int = 50) -> None:
        self.url = url
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=None)
        self._redis = aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both

    async def save_state(self, run_id: str, state: Dict[str, Any]) -> None:
        await self._redis.set(run_id, json.dumps(safe_serialize(state)))

    async def load_state(self, run_id: str) -> Optional[Dict[str, Any]]:
        value = await self._redis.get(run_id)
        if value is None:
            return None
        return safe_deserialize(json.loads(value))

    async def delete_state(self, run_id: str) -> None:
        await self._redis.delete(run_id)

    async def get_trace(self, run_id: str) -> Any:
        return None

    async def save_trace(self, run_id: str, trace: Dict[str, Any]) -> None:
        raise NotImplementedError("RedisRecipeBackend doesn't store traces")

    async def aclose(self) -> None:
        await self._redis.aclose()
