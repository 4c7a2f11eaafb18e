"""The same real servers from asyncio code: pytest-asyncio runs these in auto mode."""

from __future__ import annotations

import asyncio

import psycopg
import redis.asyncio

from tests.fixtures.redis import RedisServer


async def test_async_redis_round_trip(redis_url: str, redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        await asyncio.gather(*(client.incr("counter") for _ in range(50)))
        assert await client.get("counter") == "50"
        info = await client.info("server")
        assert info["process_id"] == redis_server.pid
    finally:
        await client.aclose()


async def test_async_postgres_concurrent_inserts(postgres_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as setup:
        await setup.execute("CREATE TABLE events (id serial PRIMARY KEY, n int NOT NULL)")

    async def insert(n: int) -> None:
        async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
            await conn.execute("INSERT INTO events (n) VALUES (%s)", (n,))

    await asyncio.gather(*(insert(n) for n in range(8)))
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        cursor = await conn.execute("SELECT count(*), sum(n) FROM events")
        assert await cursor.fetchone() == (8, sum(range(8)))
