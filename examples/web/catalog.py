"""The catalog service of the web example (see "Try it with a web app" in the README):
a FastAPI app with its items in SQLite. No tracing code in it."""

import sqlite3

from fastapi import FastAPI, HTTPException

app = FastAPI()
db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(1, "apple", 0.5), (2, "pear", 0.75)])


@app.get("/items/{item_id}")
def item(item_id: int):
    row = db.execute("SELECT name, price FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item_id, "name": row[0], "price": row[1]}
