"""The shop service of the web example (see "Try it with a web app" in the README):
a Flask app that asks the catalog service for prices. No tracing code in it."""

import os

import requests
from flask import Flask, abort

app = Flask(__name__)
CATALOG_URL = os.environ.get("CATALOG_URL", "http://127.0.0.1:8001")


@app.get("/basket/<int:item_id>")
def basket(item_id):
    answer = requests.get("%s/items/%d" % (CATALOG_URL, item_id), timeout=10)
    if answer.status_code == 404:
        abort(404)
    item = answer.json()
    return {"item": item["name"], "count": 3, "total": 3 * item["price"]}
