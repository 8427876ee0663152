"""The integration tier: every test here runs on the real local stack (tests/conftest.py brings it up)."""

import pytest
import redis.asyncio as aioredis

from storage.aggregates import AggregateStore

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def store(stack, unique):  # type: ignore[no-untyped-def]
    """An aggregate store on the real Redis under a prefix of the test's own, emptied after it."""
    client = aioredis.from_url(stack.redis_url)
    yield AggregateStore(client, prefix=f"radar:test{unique}:")
    keys = [k async for k in client.scan_iter(f"radar:test{unique}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
