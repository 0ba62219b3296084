"""The items list as the items page and `GET /api/items` search it: by an exact id, by
words of an item's name, or by the start of its name. Each read goes through one index
in its order, never a scan of the whole table:

- an exact id reads its row;
- words (`soil moisture`: every word somewhere in the name, any order, any case, as the
  jobs panel's subject search) cannot be served by an index, so they are looked for
  among the next `WINDOW` items newest first (the list's own index, with its kind and
  owner filters) and the page says when it stopped short, so Load more looks further;
- a search ending in `*` (`soil*`: names starting so, any case) is a range of the
  name index `ix_item_name_key`, in name order, however old the items are.

Cursors name the order they were made for: one sent with another search, or forged,
answers 400 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlmodel import select

from app.db import name_key, session
from app.errors import InvalidCursor, InvalidInput
from app.models import Item
from app.paging import MAX_LIMIT, decode_cursor, encode_cursor, newest_first
from app.shapes import check_text, text_problem

WINDOW = 2000  # items a words search looks through per page, as app.job_search's WINDOW
MAX_QUERY = 256  # characters of a search (the API's own bound on q)
# The end of a range of names starting with a prefix: above every character (UTF-8 and
# "C" order alike), so the range holds exactly the names starting with it.
_TOP = "\U0010ffff"


@dataclass
class ItemPage:
    items: list[Item]
    next_cursor: Optional[str]
    # "" (no search), "id", "words", "prefix", "none" (a search that found nothing)
    kind: str = ""
    # True when this page stopped after looking through WINDOW items: Load more goes on
    bounded: bool = False


def check_query(q: Optional[str]) -> str:
    q = check_text((q or "").strip(), "q")  # a control character named, as every text field's
    if len(q) > MAX_QUERY:
        raise InvalidInput(f"q must be at most {MAX_QUERY} characters.", field="q")
    return q


def find_items(*, subtype: Optional[str] = None, owner: Optional[str] = None, query: Optional[str] = None,
               cursor: Optional[str] = None, limit: int = 50) -> ItemPage:
    """Items of a kind and owner (either left out: any), newest first; found by `query`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    q = check_query(query)
    base = _scoped(select(Item), subtype, owner)
    if not q:
        return ItemPage(*newest_first(base, Item, cursor=cursor, limit=limit))
    if not cursor:  # an exact id is one row and one page; its search goes no further
        with session() as s:
            one = s.exec(base.where(Item.id == q)).first()
        if one is not None:
            return ItemPage([one], None, "id")
    if q.endswith("*") and q.rstrip("*").strip():
        return _by_prefix(base, q.rstrip("*").strip(), cursor, limit)
    return _by_words(subtype, owner, q, cursor, limit)


def _scoped(stmt, subtype: Optional[str], owner: Optional[str]):
    if subtype:
        stmt = stmt.where(Item.subtype == subtype)
    if owner:
        stmt = stmt.where(Item.owner == owner)
    return stmt


# --- names starting with a prefix: a range of the name index ------------------------------


def prefix_statement(base, prefix: str, after: Optional[tuple[str, str]], limit: int):
    """The range of `ix_item_name_key` of names starting with `prefix`, in its order (the
    plan tests read it too). The prefix is folded by the database's own lower(), as the
    index's key is, so both fold alike (SQLite's folds only ASCII letters)."""
    key = name_key(Item.display_name)
    low = name_key(sa.literal(prefix, sa.String()))
    high = name_key(sa.literal(prefix, sa.String()) + _TOP)
    stmt = base.where(key >= low, key < high)
    if after is not None:
        stmt = stmt.where(sa.tuple_(key, Item.id) > sa.tuple_(name_key(sa.literal(after[0], sa.String())),
                                                               sa.literal(after[1], sa.String())))
    return stmt.order_by(key, Item.id).limit(limit)


def _by_prefix(base, prefix: str, cursor: Optional[str], limit: int) -> ItemPage:
    after = _decode(cursor) if cursor else None
    with session() as s:
        rows = list(s.exec(prefix_statement(base, prefix, after, limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    # The cursor holds the last name itself: folded again by the database when it is read.
    nxt = _encode(rows[-1].display_name, rows[-1].id) if more else None
    return ItemPage(rows, nxt, "prefix" if rows or cursor else "none")


def _encode(name: str, id_: str) -> str:
    return base64.urlsafe_b64encode(f"name:{id_}|{name}".encode()).decode()


def _decode(cursor: str) -> tuple[str, str]:
    bad = InvalidCursor("The cursor is not one this server gave out for this search: send back the next_cursor "
                        "of the previous page unchanged, with the same search.", field="cursor")
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    head, _, rest = text.partition(":")
    id_, sep, name = rest.partition("|")
    if head != "name" or not sep or not id_ or len(id_) > 64 or len(name) > 256 or text_problem(id_ + name):
        raise bad
    return name, id_


# --- words of a name: a bounded window, newest first --------------------------------------


def _words(q: str) -> Callable[[Any], bool]:
    words = q.casefold().split()
    return lambda row: all(w in (row.display_name or "").casefold() for w in words)


def window_statement(subtype: Optional[str], owner: Optional[str], cursor: Optional[str]):
    """The bounded read: the next WINDOW items newest first, only their ids and names,
    through the list's own index of its filters (the plan tests read it too)."""
    stmt = _scoped(select(Item.id, Item.display_name, Item.created_at), subtype, owner)
    stmt = stmt.order_by(Item.created_at.desc(), Item.id.desc())
    if cursor:
        if cursor.startswith(_NAME_PREFIX):
            raise InvalidCursor("The cursor was given out for a search by the start of a name (ending in *): send "
                                "it back with that search.", field="cursor")
        stmt = stmt.where(sa.tuple_(Item.created_at, Item.id) < decode_cursor(cursor))
    return stmt.limit(WINDOW)


_NAME_PREFIX = base64.urlsafe_b64encode(b"name:").decode()[:4]


def _by_words(subtype: Optional[str], owner: Optional[str], q: str, cursor: Optional[str], limit: int) -> ItemPage:
    match = _words(q)
    with session() as s:
        window = list(s.execute(window_statement(subtype, owner, cursor)))
        found = [r for r in window if match(r)]
        if len(found) > limit:
            found, last, bounded = found[:limit], found[limit - 1], False
        elif len(window) == WINDOW:
            last, bounded = window[-1], True  # looked as far as one page may: Load more goes on
        else:
            last, bounded = None, False
        by_id = {i.id: i for i in s.exec(select(Item).where(Item.id.in_([r.id for r in found])))} if found else {}
    items = [by_id[r.id] for r in found if r.id in by_id]
    nxt = encode_cursor(last.created_at, last.id) if last is not None else None
    return ItemPage(items, nxt, "words" if items or nxt else "none", bounded)
