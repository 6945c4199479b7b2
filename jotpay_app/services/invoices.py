"""Invoice numbers: per practice, sequential and gap-free."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from jotpay_app.models import Practice


def take_invoice_number(session: Session, practice_id: int) -> int:
    """Take the practice's next invoice number inside the caller's transaction.

    The counter row is incremented with a single UPDATE ... RETURNING, which holds the
    row lock until the transaction ends: two concurrent sends serialise here, and a
    transaction that rolls back returns its number, so the sequence has no gaps.
    """
    table = Practice.__table__  # type: ignore[attr-defined]
    taken = session.execute(
        sa.update(table)
        .where(table.c.id == practice_id)
        .values(next_invoice_number=table.c.next_invoice_number + 1)
        .returning(table.c.next_invoice_number)
    ).scalar_one()
    return int(taken) - 1
