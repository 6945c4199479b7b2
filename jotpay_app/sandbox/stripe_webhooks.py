"""Webhook delivery: signed like Stripe's, retried with back-off, persisted across restarts.

Deliveries live in the store, so a restart resumes them. A background task (started by the
app's lifespan) sends the due ones one at a time, in event order unless a fault says
otherwise, and reschedules failures after base * 2**attempt seconds, capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from jotpay_app.sandbox.stripe_store import StripeStore

log = logging.getLogger("jotpay.sandbox.stripe.webhooks")

DELIVERY_LOG_LENGTH = 200


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` as Stripe builds it: HMAC-SHA256 of `"{t}.{payload}"`."""
    signed = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={signed.hexdigest()}"


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secret: str


@dataclass
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0

    def delay_after(self, attempts: int) -> float:
        return min(self.base_seconds * 2 ** (attempts - 1), self.cap_seconds)


@dataclass
class WebhookFaults:
    """Delivery faults asked for through POST /sandbox/stripe/faults (kept in memory only)."""

    delay_seconds: float = 0.0
    delay_remaining: int | None = None  # events still delayed; None: until cleared
    duplicate: bool = False
    duplicate_remaining: int | None = None
    reverse_batch: str | None = None  # id of the batch being gathered
    reverse_remaining: int = 0  # events still to gather before releasing the batch
    reverse_deadline: float = 0.0  # release the batch even if short, so nothing is stuck

    def describe(self) -> dict[str, Any]:
        return {
            "delay_seconds": self.delay_seconds,
            "delay_remaining": self.delay_remaining,
            "duplicate": self.duplicate,
            "duplicate_remaining": self.duplicate_remaining,
            "reverse_gathering": self.reverse_remaining if self.reverse_batch else 0,
        }


@dataclass
class WebhookDispatcher:
    store: StripeStore
    endpoints: dict[str, WebhookEndpoint]  # "platform" and/or "connect"
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    faults: WebhookFaults = field(default_factory=WebhookFaults)
    poll_seconds: float = 0.05

    # -- called inside a store transaction when an event is created ---------------------------
    def endpoint_for(self, account_id: str | None) -> str | None:
        """Connect events go to the Connect endpoint when there is one, else the main one."""
        if account_id and "connect" in self.endpoints:
            return "connect"
        if "platform" in self.endpoints:
            return "platform"
        return None

    def enqueue(self, event: dict[str, Any]) -> int:
        """Queue the event's deliveries; returns how many (Stripe's `pending_webhooks`)."""
        endpoint = self.endpoint_for(event.get("account"))
        if endpoint is None:
            return 0
        faults = self.faults
        now = time.time()
        copies = 1
        if faults.duplicate:
            copies = 2
            faults.duplicate_remaining = _count_down(faults.duplicate_remaining)
            if faults.duplicate_remaining == 0:
                faults.duplicate, faults.duplicate_remaining = False, None
        first_attempt_at = now
        if faults.delay_seconds > 0:
            first_attempt_at = now + faults.delay_seconds
            faults.delay_remaining = _count_down(faults.delay_remaining)
            if faults.delay_remaining == 0:
                faults.delay_seconds, faults.delay_remaining = 0.0, None
        held_batch = faults.reverse_batch
        for _ in range(copies):
            sequence = self.store.next_sequence()
            self.store.state["deliveries"].append(
                {
                    "id": f"whd_{sequence}",
                    "event": event["id"],
                    "event_type": event["type"],
                    "endpoint": endpoint,
                    "attempts": 0,
                    "next_attempt_at": first_attempt_at,
                    "sort_key": sequence,
                    "held_batch": held_batch,
                    "last_status": None,
                    "last_error": None,
                }
            )
        if held_batch:
            faults.reverse_remaining -= 1
            if faults.reverse_remaining <= 0:
                self._release_batch(held_batch)
        self.store.mark_dirty()
        return copies

    def _release_batch(self, batch: str) -> None:
        """Send a gathered batch newest first."""
        now = time.time()
        for delivery in self.store.state["deliveries"]:
            if delivery["held_batch"] == batch:
                delivery["held_batch"] = None
                delivery["sort_key"] = -delivery["sort_key"]
                delivery["next_attempt_at"] = max(delivery["next_attempt_at"], now)
        if self.faults.reverse_batch == batch:
            self.faults.reverse_batch, self.faults.reverse_remaining = None, 0
        self.store.mark_dirty()

    # -- fault control ------------------------------------------------------------------------
    def set_fault(self, spec: dict[str, Any]) -> None:
        kind = spec.get("webhooks")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        if kind == "delay":
            seconds = spec.get("seconds")
            if not isinstance(seconds, int | float) or seconds <= 0:
                raise ValueError("webhooks=delay needs seconds > 0")
            self.faults.delay_seconds, self.faults.delay_remaining = float(seconds), count
        elif kind == "duplicate":
            self.faults.duplicate, self.faults.duplicate_remaining = True, count
        elif kind == "reverse":
            within = spec.get("within_seconds", 10)
            if not isinstance(within, int | float) or within <= 0:
                raise ValueError("within_seconds must be > 0")
            with self.store.transaction():
                if self.faults.reverse_batch:
                    self._release_batch(self.faults.reverse_batch)
                self.faults.reverse_batch = f"batch_{self.store.next_sequence()}"
                self.faults.reverse_remaining = count or 2
                self.faults.reverse_deadline = time.time() + float(within)
        else:
            raise ValueError("webhooks must be one of delay, duplicate, reverse")

    def clear_faults(self) -> None:
        with self.store.transaction():
            for delivery in self.store.state["deliveries"]:
                if delivery["held_batch"]:
                    self._release_batch(delivery["held_batch"])
            self.faults = WebhookFaults()

    # -- background delivery ------------------------------------------------------------------
    def release_held_on_start(self) -> None:
        """Fault batches do not survive a restart; deliver what they held."""
        with self.store.transaction():
            for delivery in self.store.state["deliveries"]:
                if delivery["held_batch"]:
                    self._release_batch(delivery["held_batch"])

    def _due_deliveries(self) -> list[dict[str, Any]]:
        now = time.time()
        with self.store.transaction():
            faults = self.faults
            if faults.reverse_batch and now >= faults.reverse_deadline:
                self._release_batch(faults.reverse_batch)
            due = [
                dict(delivery)
                for delivery in self.store.state["deliveries"]
                if not delivery["held_batch"] and delivery["next_attempt_at"] <= now
            ]
        return sorted(due, key=lambda delivery: delivery["sort_key"])

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.policy.timeout_seconds) as client:
            while True:
                try:
                    for delivery in self._due_deliveries():
                        await self._attempt(client, delivery)
                except asyncio.CancelledError:
                    raise
                except Exception:  # keep delivering whatever one bad delivery did
                    log.exception("webhook delivery loop error")
                await asyncio.sleep(self.poll_seconds)

    async def _attempt(self, client: httpx.AsyncClient, delivery: dict[str, Any]) -> None:
        with self.store.transaction():
            event = self.store.get(delivery["event"])
        endpoint = self.endpoints.get(delivery["endpoint"])
        status: int | None = None
        error: str | None = None
        if event is None or endpoint is None:
            error = "event or endpoint no longer configured"
        else:
            payload = json.dumps(event, indent=2)
            timestamp = int(time.time())  # real time: receivers check it against their clock
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature_header(payload, endpoint.secret, timestamp),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                response = await client.post(
                    endpoint.url, content=payload.encode(), headers=headers
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        self._record(delivery["id"], status, error)

    def _record(self, delivery_id: str, status: int | None, error: str | None) -> None:
        with self.store.transaction() as state:
            delivery = next((d for d in state["deliveries"] if d["id"] == delivery_id), None)
            if delivery is None:
                return
            delivery["attempts"] += 1
            delivery["last_status"] = status
            delivery["last_error"] = error
            delivered = status is not None and 200 <= status < 300
            gave_up = not delivered and delivery["attempts"] >= self.policy.max_attempts
            if delivered or gave_up or error == "event or endpoint no longer configured":
                state["deliveries"].remove(delivery)
                delivery["outcome"] = "delivered" if delivered else "failed"
                delivery["finished_at"] = time.time()
                state["delivery_log"].append(delivery)
                del state["delivery_log"][:-DELIVERY_LOG_LENGTH]
                event = self.store.get(delivery["event"])
                if event is not None and delivered:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            else:
                delivery["next_attempt_at"] = time.time() + self.policy.delay_after(
                    delivery["attempts"]
                )
            self.store.mark_dirty()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.release_held_on_start()
        task = asyncio.create_task(self.run(), name="stripe-sandbox-webhooks")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _count_down(remaining: int | None) -> int | None:
    return None if remaining is None else remaining - 1
