"""The live event stream over a WebSocket: the same events, order, resume and tokens as SSE.

Every text message is a JSON object: first `{"type": "subscribed"}` once the
stream is active, then `{"type": "event", "id": <position>, "event": {...}}`
for each committed event. A client resumes with `?after=<last id>`, on any
worker. The token goes in `Authorization: Bearer` or, from a browser (whose
WebSocket cannot send headers), as `?access_token=`. The socket is accepted
first, so a refusal carries a close code a browser can read: 4401 for a
missing, unknown, revoked or expired token, 4403 for another user's token.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.auth import redact_access_token
from app.repositories import TokenRepository
from app.schemas import EventRead
from app.stream import follow_user_events, position_of
from core.database import transaction
from core.database.broadcast import Broadcaster

__all__ = ["FORBIDDEN_CLOSE_CODE", "UNAUTHORIZED_CLOSE_CODE", "serve_user_events"]

# 4000-4999 are the application's own close codes: HTTP's 401 and 403, read as 44xx.
UNAUTHORIZED_CLOSE_CODE = 4401
FORBIDDEN_CLOSE_CODE = 4403


async def serve_user_events(
    websocket: WebSocket, broadcaster: Broadcaster, user_id: int, after: int | None
) -> None:
    """Send the user's events after position `after` (None: from now) until the client leaves."""
    secret = _secret(websocket)
    await websocket.accept()
    async with transaction() as session:
        token = await TokenRepository(session).verify(secret) if secret else None
    if token is None:
        await websocket.close(UNAUTHORIZED_CLOSE_CODE, "invalid, expired or revoked token")
        return
    if token.user_id != user_id:
        await websocket.close(FORBIDDEN_CLOSE_CODE, "this token does not act for that user")
        return
    async with anyio.create_task_group() as group:

        async def send_events() -> None:
            events = follow_user_events(broadcaster, user_id, after=after)
            try:
                # follow()'s first batch comes once it is subscribed: a client that has
                # read "subscribed" receives every later commit.
                batch = await anext(events)
                await websocket.send_json({"type": "subscribed"})
                while True:
                    for event in batch:
                        await websocket.send_json(_envelope(event))
                    batch = await anext(events)
            except StopAsyncIteration:
                await websocket.close()
            except WebSocketDisconnect:
                pass  # the client left while we were sending: nothing more to do
            finally:
                await events.aclose()
            group.cancel_scope.cancel()

        group.start_soon(send_events)
        # The client sends nothing we need; reading notices its departure at once.
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
        group.cancel_scope.cancel()


def _secret(websocket: WebSocket) -> str | None:
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    secret = websocket.query_params.get("access_token")
    if secret is not None:
        redact_access_token(websocket)  # before the server logs the request line
    return secret or None


def _envelope(event: EventRead) -> dict[str, Any]:
    return {"type": "event", "id": position_of(event), "event": event.model_dump(mode="json")}
