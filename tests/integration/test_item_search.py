"""The items list's search (app.item_search) through the registry and `GET /api/items`:
words of a name in any order and case, looked through a bounded window newest first
that says when it stopped short (Load more goes on to find older items); the start of a
name (`soil*`) a range of the name index in name order, old items too; an exact id;
cursors of one search refused by another; each read planned over its index, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import item_search, registry
from app.db import get_engine, session, utcnow
from app.models import Item
from tests.integration.test_job_search import _params
from tests.plans import assert_reads_index


def _items(names: list[str], owner: str = "alice", subtype: str = "DATASET") -> list[Item]:
    """Items named so, the first the oldest (a second apart), written as rows directly:
    the search reads rows, whatever lodged them."""
    start = utcnow() - timedelta(hours=1)
    rows = [Item(subtype=subtype, display_name=n, owner=owner, created_at=start + timedelta(seconds=i),
                 updated_at=start) for i, n in enumerate(names)]
    with session() as s:
        s.add_all(rows)
        s.commit()
        for r in rows:
            s.refresh(r)
        s.expunge_all()
    return rows


def _names(page) -> list[str]:
    return [i.display_name for i in page.items]


def test_words_of_a_name_in_any_order_and_case(api, users):
    _items(["Soil moisture grid", "Soil temperature", "Daily SOIL moisture", "moisture of soils 2024", "Rain"])
    page = registry.list_items(query="moisture soil")
    assert _names(page) == ["moisture of soils 2024", "Daily SOIL moisture", "Soil moisture grid"]  # newest first
    assert (page.kind, page.bounded, page.next_cursor) == ("words", False, None)
    assert _names(registry.list_items(query="  TEMP  ")) == ["Soil temperature"]
    assert registry.list_items(query="snow").kind == "none"

    r = api.get("/api/items", params={"q": "soil moisture"}, headers=api.as_("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["display_name"] for i in body["items"]][-1] == "Soil moisture grid"
    assert (body["search"], body["bounded"]) == ("words", False)
    # A page of words: the limit, then the rest after its cursor.
    first = registry.list_items(query="soil", limit=2)
    rest = registry.list_items(query="soil", limit=2, cursor=first.next_cursor)
    assert len(first.items) == 2 and _names(first) + _names(rest) == [
        "moisture of soils 2024", "Daily SOIL moisture", "Soil temperature", "Soil moisture grid"]


def test_a_words_search_is_bounded_and_says_so(api, users, monkeypatch):
    monkeypatch.setattr(item_search, "WINDOW", 5)
    old = _items(["the old survey"] + [f"filler {i}" for i in range(11)])[0]
    page = registry.list_items(query="survey")
    assert page.items == [] and page.bounded and page.next_cursor and page.kind == "words"
    seen, looks = [], 1
    while not seen:  # Load more: the next window each time, until it reaches the old one
        page = registry.list_items(query="survey", cursor=page.next_cursor)
        seen, looks = [i.id for i in page.items], looks + 1
    assert seen == [old.id] and looks == 3 and page.next_cursor is None and not page.bounded
    r = api.get("/api/items", params={"q": "survey"}, headers=api.as_("alice")).json()
    assert (r["items"], r["bounded"], r["search"]) == ([], True, "words") and r["next_cursor"]

    # The start of its name finds it at once, however many newer items there are.
    page = registry.list_items(query="THE OLD*")
    assert [i.id for i in page.items] == [old.id] and page.kind == "prefix" and not page.bounded


def test_the_start_of_a_name_in_name_order(api, users):
    _items(["soil b", "Soil A", "subsoil", "Soils", "soil_c", "Soil%x"], owner="alice")
    _items(["soil z"], owner="bob", subtype="MODEL")
    page = registry.list_items(query="soil*")
    assert _names(page) == ["Soil A", "soil b", "soil z", "Soil%x", "soil_c", "Soils"] and page.kind == "prefix"
    assert _names(registry.list_items(query="soil*", owner="bob")) == ["soil z"]
    assert _names(registry.list_items(query="soil*", subtype="DATASET", owner="alice"))[-1] == "Soils"
    assert _names(registry.list_items(query="soil%*")) == ["Soil%x"]  # % and _ are themselves
    assert _names(registry.list_items(query="soil_*")) == ["soil_c"]
    assert registry.list_items(query="nothing*").kind == "none"
    # Paged one at a time through the index, the same order.
    got, cursor = [], None
    while True:
        page = registry.list_items(query="SOIL*", limit=1, cursor=cursor)
        got += _names(page)
        cursor = page.next_cursor
        if not cursor:
            break
    assert got == ["Soil A", "soil b", "soil z", "Soil%x", "soil_c", "Soils"]

    h = api.as_("alice")
    r = api.get("/api/items", params={"q": "soil*", "limit": 2}, headers=h).json()
    assert [i["display_name"] for i in r["items"]] == ["Soil A", "soil b"] and r["search"] == "prefix"
    # A prefix's cursor sent with words, or a forged one: 400 naming cursor.
    bad = api.get("/api/items", params={"q": "soil", "cursor": r["next_cursor"]}, headers=h)
    assert bad.status_code == 400 and bad.json()["field"] == "cursor", bad.text
    bad = api.get("/api/items", params={"q": "soil*", "cursor": "bmFtZTp4"}, headers=h)
    assert bad.status_code == 400 and bad.json()["field"] == "cursor", bad.text


def test_an_exact_id_finds_its_item(api, users):
    a, _ = _items(["first", "second"])
    page = registry.list_items(query=a.id)
    assert [i.id for i in page.items] == [a.id] and page.kind == "id"
    assert registry.list_items(query=a.id, owner="bob").kind == "none"  # not bob's: searched as words


def test_each_search_reads_its_index_in_order(users, monkeypatch):
    monkeypatch.setattr(item_search, "WINDOW", 50)
    # enough rows that an ordered index read beats reading a filter's rows and sorting them
    _items([f"soil {i}" for i in range(1500)])
    _items([f"rain {i}" for i in range(600)], owner="bob", subtype="MODEL")
    engine = get_engine()
    if engine.dialect.name == "postgresql":  # its statistics, as autovacuum keeps them at scale
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE item")
    base = sa.select(Item)
    after = ("soil 5", registry.list_items(query="soil 5").items[0].id)
    plans = [(item_search.prefix_statement(base, "soil", None, 26), "ix_item_name_key"),
             (item_search.prefix_statement(base, "soil", after, 26), "ix_item_name_key"),
             (item_search.window_statement(None, None, None), "ix_item_created"),
             (item_search.window_statement(None, "alice", None), "ix_item_owner_created"),
             (item_search.window_statement("MODEL", "bob", None), "ix_item_owner_subtype_created")]
    page = registry.list_items(query="soil 1", limit=1)
    plans.append((item_search.window_statement(None, None, page.next_cursor), "ix_item_created"))
    for stmt, index in plans:
        compiled = stmt.compile(engine)
        assert_reads_index(engine, str(compiled), _params(compiled, engine), index, "item")
