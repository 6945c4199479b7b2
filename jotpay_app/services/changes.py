"""Which payment requests changed: collected from every committed session, announced
to listeners (the live-update push in `jotpay_app/live.py`).

Hooked on SQLAlchemy's session events, so every path that changes a request — a
webhook, the scheduler, a clinician's click — is seen without each remembering to
say so. Bulk statements that bypass the ORM call `announce` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jotpay_app.models import PaymentEvent, PaymentRequest

log = logging.getLogger(__name__)
_PENDING_KEY = "jotpay_changed_requests"


@dataclass(frozen=True)
class ChangeNotice:
    practice_id: int
    request_ids: frozenset[int]


Listener = Callable[[list[ChangeNotice]], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _pending(session: Session) -> dict[int, set[int]]:
    return session.info.setdefault(_PENDING_KEY, {})


def announce(session: Session, practice_id: int, request_ids: Iterable[int]) -> None:
    """Mark requests changed by a statement the ORM did not see (bulk UPDATE/INSERT)."""
    _pending(session).setdefault(practice_id, set()).update(request_ids)


def _after_flush(session: Session, _context: object) -> None:
    touched = [*session.new, *session.dirty]
    if not touched:
        return
    events = [o for o in touched if isinstance(o, PaymentEvent)]
    requests = {o.id: o for o in touched if isinstance(o, PaymentRequest) and o.id}
    pending = _pending(session)
    for request in requests.values():
        pending.setdefault(request.practice_id, set()).add(request.id or 0)
    for event in events:
        if event.request_id in requests:
            continue
        with session.no_autoflush:
            request = session.get(PaymentRequest, event.request_id)
        if request is not None:
            pending.setdefault(request.practice_id, set()).add(event.request_id)


def publish(changed: dict[int, set[int]]) -> None:
    """Tell listeners that these requests (practice id -> request ids) changed and the
    change is committed. For code that writes through a Connection, not a Session."""
    notices = [ChangeNotice(pid, frozenset(ids)) for pid, ids in changed.items() if ids]
    if not notices:
        return
    for listener in list(_listeners):
        try:
            listener(notices)
        except Exception:  # a broken listener must never undo or block a commit
            log.exception("change listener failed")


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending and _listeners:
        publish(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


sa.event.listen(Session, "after_flush", _after_flush)
sa.event.listen(Session, "after_commit", _after_commit)
sa.event.listen(Session, "after_soft_rollback", lambda session, _tx: _after_rollback(session))
