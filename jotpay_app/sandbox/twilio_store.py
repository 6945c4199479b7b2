"""Persistent state of the Twilio stand-in: messages, opt-outs and pending jobs.

Everything lives in one JSON file that is rewritten atomically (temporary file in the
same folder, fsync, `os.replace`) after each change, so a killed sandbox restarts with
its texts, its opted-out numbers and the status callbacks it still owed.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# A message record is the sandbox's own view of a Message: epoch-second floats for times,
# the planned lifecycle, and a log of webhook attempts. `twilio_api.message_resource`
# turns it into the JSON Twilio returns.
MessageRecord = dict[str, Any]
# A job is work the background worker owes: a status change ("transition") or an HTTP
# POST to a status-callback / inbound-webhook URL ("webhook").
Job = dict[str, Any]


class StateFileError(RuntimeError):
    """The data file exists but is not a state file this sandbox can read."""


class TwilioStore:
    """In-memory state mirrored to `path`. Use `transaction()` for every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: dict[str, MessageRecord] = {}
        # number -> {"keyword": "STOP", "at": epoch seconds}
        self.opt_outs: dict[str, dict[str, Any]] = {}
        self.jobs: list[Job] = []
        self.next_seq = 1
        # Starlette runs sync endpoints in threads; the lock keeps writers in line.
        self._lock = threading.RLock()
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            # Refusing to start beats silently dropping someone's test data.
            raise StateFileError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("version") != SCHEMA_VERSION:
            raise StateFileError(f"{self.path} is not a version {SCHEMA_VERSION} state file")
        self.messages = dict(raw.get("messages", {}))
        self.opt_outs = dict(raw.get("opt_outs", {}))
        self.jobs = list(raw.get("jobs", []))
        self.next_seq = int(raw.get("next_seq", 1))

    def _save(self) -> None:
        document = {
            "version": SCHEMA_VERSION,
            "next_seq": self.next_seq,
            "messages": self.messages,
            "opt_outs": self.opt_outs,
            "jobs": self.jobs,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".twilio-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                json.dump(document, tmp, indent=1, sort_keys=True)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    @contextmanager
    def transaction(self) -> Iterator[TwilioStore]:
        """Hold the lock while changing state; write the file when the block ends."""
        with self._lock:
            yield self
            self._save()

    @contextmanager
    def reading(self) -> Iterator[TwilioStore]:
        """Hold the lock while reading several things that must agree."""
        with self._lock:
            yield self

    def take_seq(self) -> int:
        """A strictly increasing number: orders messages created in the same instant."""
        seq = self.next_seq
        self.next_seq += 1
        return seq


def newest_first(records: list[MessageRecord]) -> list[MessageRecord]:
    """Twilio's list order: newest first; `seq` breaks ties within one clock tick."""
    return sorted(records, key=lambda r: (r["created"], r["seq"]), reverse=True)
