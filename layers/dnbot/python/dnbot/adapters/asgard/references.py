"""Where each dnbot position's long lives at Asgard (kept durably: the open and the reconcile run in different
Lambda invocations). Free of the Solana SDKs so the state store can import it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LongReference:
    """Where a dnbot position's long lives at Asgard, and the signatures of its transactions."""

    wallet: str
    protocol: int
    pda: str
    open_signature: str | None = None
    close_signature: str | None = None
    # the blockhash the open transaction was signed over: until it expires, a submit whose answer was lost may land
    open_blockhash: str | None = None
    # the last position update (repay-debt) signed for this long, kept while its answer is unknown: the update
    # count it is meant to take the long past, its signature and blockhash (it may land until that expires)
    update_after: int | None = None
    update_signature: str | None = None
    update_blockhash: str | None = None


class LongReferenceStore(Protocol):
    """(user, position) -> LongReference. In Lambda it must be durable (DynamoDB), as reconciliation runs in
    another invocation than the open; in-memory for tests and `dnbot local`."""

    def get_reference(self, user_id: str, position_id: str) -> LongReference | None: ...

    def put_reference(self, user_id: str, position_id: str, reference: LongReference) -> None: ...


class InMemoryLongReferences:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], LongReference] = {}
        self._lock = threading.Lock()

    def get_reference(self, user_id: str, position_id: str) -> LongReference | None:
        with self._lock:
            return self._items.get((user_id, position_id))

    def put_reference(self, user_id: str, position_id: str, reference: LongReference) -> None:
        with self._lock:
            self._items[(user_id, position_id)] = reference
