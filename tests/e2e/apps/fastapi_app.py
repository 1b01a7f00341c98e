"""A FastAPI app served by uvicorn under `autotrace run` (for test_run_asgi_frameworks.py):
routes of the app, of nested included routers, of a mounted Starlette app, a websocket,
an endless stream, and a failing endpoint."""

import asyncio

from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

app = FastAPI()


@app.get("/items/{item_id}")
def item(item_id: int):
    return {"id": item_id}


@app.get("/boom")
async def boom():
    raise RuntimeError("the endpoint failed")


@app.get("/feed")
async def feed():
    async def chunks():
        for i in range(10 ** 6):   # far longer than any test: it stops when the client leaves
            yield b"event %d\n" % i
            await asyncio.sleep(0.001)
    return StreamingResponse(chunks())


@app.websocket("/ws/{room}")
async def room(websocket: WebSocket, room: str):
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text("%s: %s" % (room, text))
    await websocket.close()


inner = APIRouter(prefix="/inner")


@inner.get("/things/{thing_id}")
def thing(thing_id: str):
    return {"thing": thing_id}


users = APIRouter()


@users.get("/users/{user_id}")
def user(user_id: int):
    return {"user": user_id}


users.include_router(inner, prefix="/deep")
app.include_router(users, prefix="/v1")


async def report(request):
    return PlainTextResponse("report %s" % request.path_params["report_id"])


app.mount("/legacy/{tenant}", Starlette(routes=[Route("/reports/{report_id:int}", report)]))
