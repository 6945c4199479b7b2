"""Live status: when a request changes, every open page of the practice that shows
requests re-reads them and Reflex pushes the delta — no reload, no polling timer.

- Pages register the tab (client token) and the state to refresh with `watch` when
  they load. The registry lives in Redis when the app runs with several workers
  (`REDIS_URL`), else in this process.
- `services/changes.py` reports committed changes (from any thread: webhooks, the
  scheduler, clicks); they are handed to the event loop and, for each watching tab of
  that practice, applied with `app.modify_state`. With Redis, Reflex forwards the
  delta to the worker that holds the tab's websocket, so a webhook received by one
  worker reaches tabs connected to another.

This is a per-practice fan-out of targeted refreshes, not a linked shared state, so
ordinary events of a tab pay nothing for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import Any

import reflex as rx

from jotpay_app.services import changes
from jotpay_app.settings import get_settings

log = logging.getLogger(__name__)
WATCH_TTL_SECONDS = 12 * 3600


class WatchRegistry:
    """practice id -> {client token -> (state full names, registered at)}."""

    def __init__(self, redis_url: str = "") -> None:
        self._redis: Any = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._local: dict[int, dict[str, dict[str, float]]] = {}
        self._lock = threading.Lock()

    def _key(self, practice_id: int) -> str:
        return f"jotpay:live:{practice_id}"

    def watch(self, practice_id: int, token: str, state_name: str) -> None:
        now = time.time()
        if self._redis is not None:
            key = self._key(practice_id)
            raw = self._redis.hget(key, token)
            names = json.loads(raw) if raw else {}
            names[state_name] = now
            pipe = self._redis.pipeline()
            pipe.hset(key, token, json.dumps(names))
            pipe.expire(key, WATCH_TTL_SECONDS)
            pipe.execute()
            return
        with self._lock:
            self._local.setdefault(practice_id, {}).setdefault(token, {})[state_name] = now

    def watchers(self, practice_id: int) -> dict[str, list[str]]:
        cutoff = time.time() - WATCH_TTL_SECONDS
        if self._redis is not None:
            entries = {
                k.decode(): json.loads(v)
                for k, v in self._redis.hgetall(self._key(practice_id)).items()
            }
        else:
            with self._lock:
                entries = {t: dict(n) for t, n in self._local.get(practice_id, {}).items()}
        return {
            token: [name for name, at in names.items() if at >= cutoff]
            for token, names in entries.items()
        }

    def forget(self, practice_id: int, token: str) -> None:
        if self._redis is not None:
            self._redis.hdel(self._key(practice_id), token)
            return
        with self._lock:
            self._local.get(practice_id, {}).pop(token, None)


_registry: WatchRegistry | None = None
_loop: asyncio.AbstractEventLoop | None = None
_live_states: dict[str, type[rx.State]] = {}


def registry() -> WatchRegistry:
    global _registry
    if _registry is None:
        _registry = WatchRegistry(get_settings().redis_url)
    return _registry


def live_state(cls: type[rx.State]) -> type[rx.State]:
    """Class decorator: the state has `_live_refresh(request_ids)` and can be watched."""
    _live_states[cls.get_full_name()] = cls
    return cls


async def _refresh_tab(token: str, state_names: list[str], request_ids: frozenset[int]) -> None:
    from jotpay_app.jotpay_app import app

    for name in state_names:
        cls = _live_states.get(name)
        if cls is None:
            continue
        async with app.modify_state(rx.BaseStateToken(ident=token, cls=cls)) as root:
            state = await root.get_state(cls)
            await asyncio.to_thread(state._live_refresh, request_ids)  # type: ignore[attr-defined]


async def dispatch(notices: list[changes.ChangeNotice]) -> None:
    for notice in notices:
        watchers = await asyncio.to_thread(registry().watchers, notice.practice_id)
        for token, names in watchers.items():
            if not names:
                continue
            try:
                await _refresh_tab(token, names, notice.request_ids)
            except Exception:
                log.exception("live refresh failed for a tab; forgetting it")
                await asyncio.to_thread(registry().forget, notice.practice_id, token)


def _on_commit(notices: list[changes.ChangeNotice]) -> None:
    loop = _loop
    if loop is None or loop.is_closed():
        return
    loop.call_soon_threadsafe(lambda: loop.create_task(dispatch(notices)))


async def live_lifespan() -> None:
    """Reflex lifespan task: route committed changes to open tabs until shutdown."""
    global _loop
    _loop = asyncio.get_running_loop()
    changes.subscribe(_on_commit)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        changes.unsubscribe(_on_commit)
        with contextlib.suppress(Exception):
            _loop = None
