"""DynamoDB Query paging, written once: every item of a Query, or one page of it behind an opaque cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, page after page (DynamoDB answers at most 1 MB a call)."""
    while True:
        response = table.query(**kwargs)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def query_page(table: Any, cursor: str | None, limit: int, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a Query from `cursor` (an opaque JSON string; None: the first page) and the next page's cursor
    (None: this was the last page)."""
    if cursor:
        kwargs["ExclusiveStartKey"] = json.loads(cursor)
    response = table.query(Limit=limit, **kwargs)
    last = response.get("LastEvaluatedKey")
    return list(response.get("Items", [])), json.dumps(last) if last else None
