"""The sandbox's state: one JSON file, written atomically, changed only inside a transaction.

Every change happens in `with store.transaction():`. On success the whole state is written to
a temp file and moved over the data file with `os.replace`, so a crash never leaves half a
file; on an exception the in-memory state is put back to the last written version, so a
request that fails half-way leaves nothing behind (as a failed Stripe request does).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATE_VERSION = 1
_ID_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "clock_offset": 0,  # seconds added to the wall clock (see POST /sandbox/stripe/clock)
        "objects": {},  # id -> Stripe object, in creation order
        "owners": {},  # id -> connected account id owning it, absent for the platform
        "private": {},  # id -> data Stripe keeps but does not return (line items, tokens...)
        "account_links": {},  # token -> {account, type, refresh_url, return_url, expires_at...}
        "login_links": {},  # token -> {account, expires_at, used}
        "page_sessions": {},  # token -> onboarding/dashboard page opened by a link
        "receipts": {},  # receipt token -> charge id
        "idempotency": {},  # scope -> stored response
        "deliveries": [],  # webhook deliveries not yet delivered or given up
        "delivery_log": [],  # the last finished deliveries, newest last
        "sequence": 0,  # ordering of deliveries
    }


class StripeStore:
    """State for the Stripe stand-in, persisted in one JSON file."""

    def __init__(self, data_file: Path) -> None:
        self.data_file = data_file
        self.lock = threading.RLock()
        self._dirty = False
        if data_file.exists():
            self._committed = data_file.read_text(encoding="utf-8")
            self.state: dict[str, Any] = json.loads(self._committed)
            for key, value in _empty_state().items():
                self.state.setdefault(key, value)
        else:
            self.state = _empty_state()
            self._committed = json.dumps(self.state)
            self._write(self._committed)

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        with self.lock:
            try:
                yield self.state
            except BaseException:
                if self._dirty:
                    self.state = json.loads(self._committed)
                    self._dirty = False
                raise
            if self._dirty:
                self._committed = json.dumps(self.state, separators=(",", ":"))
                self._write(self._committed)
                self._dirty = False

    def mark_dirty(self) -> None:
        self._dirty = True

    def _write(self, text: str) -> None:
        self.data_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_path = tempfile.mkstemp(
            prefix=self.data_file.name + ".", suffix=".tmp", dir=self.data_file.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as temp_file:
                temp_file.write(text)
                temp_file.flush()
                os.fsync(temp_file.fileno())
            os.replace(temp_path, self.data_file)
        except BaseException:
            Path(temp_path).unlink(missing_ok=True)
            raise

    # -- time and ids ---------------------------------------------------------------------------
    def now(self) -> int:
        """Sandbox time (Unix seconds); tests may move it forward to reach expiry."""
        return int(time.time()) + int(self.state["clock_offset"])

    def advance_clock(self, seconds: int) -> None:
        self.state["clock_offset"] = int(self.state["clock_offset"]) + seconds
        self.mark_dirty()

    def next_sequence(self) -> int:
        self.state["sequence"] += 1
        self.mark_dirty()
        return int(self.state["sequence"])

    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        # Stripe ids look like `pi_3PgafyB7WZ01zgkW...`: a prefix and base62 characters.
        return f"{prefix}_{random_token(length)}"

    # -- objects --------------------------------------------------------------------------------
    def put(self, obj: dict[str, Any], owner: str | None = None, **private: Any) -> dict[str, Any]:
        """Store a new object (or a new version of one) owned by the platform or an account."""
        object_id = obj["id"]
        self.state["objects"][object_id] = obj
        if owner:
            self.state["owners"][object_id] = owner
        if private:
            self.state["private"].setdefault(object_id, {}).update(private)
        self.mark_dirty()
        return obj

    def get(self, object_id: str) -> dict[str, Any] | None:
        return self.state["objects"].get(object_id)

    def owner_of(self, object_id: str) -> str | None:
        return self.state["owners"].get(object_id)

    def private(self, object_id: str) -> dict[str, Any]:
        return self.state["private"].setdefault(object_id, {})

    def set_private(self, object_id: str, **values: Any) -> None:
        self.private(object_id).update(values)
        self.mark_dirty()

    def objects_of(self, kind: str, owner: str | None) -> list[dict[str, Any]]:
        """Objects of one kind visible to `owner` (None: the platform), oldest first."""
        owners = self.state["owners"]
        return [
            obj
            for object_id, obj in self.state["objects"].items()
            if obj.get("object") == kind and owners.get(object_id) == owner
        ]
