"""Service B of the two-service test: a FastAPI app answering from PostgreSQL (PG_DSN)."""

import os

import psycopg
from fastapi import FastAPI

app = FastAPI()


@app.get("/orders/{order_id}")
async def order(order_id: int):
    async with await psycopg.AsyncConnection.connect(os.environ["PG_DSN"]) as conn:
        cursor = await conn.execute("SELECT %s::int AS id, 'shipped' AS status", (order_id,))
        order_id, status = await cursor.fetchone()
    return {"id": order_id, "status": status}
