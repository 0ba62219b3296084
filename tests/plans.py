"""How the database plans a statement a page runs, for the tests that assert each list
reads its index in order (no scan, no sort)."""

from __future__ import annotations


def assert_reads_index(engine, statement: str, parameters, index: str, table: str, *, no_scan: bool = False) -> None:
    """`statement` is served by `index` in its order. On SQLite by its own plan; on
    PostgreSQL, where a tiny table's costs tie among its indexes, with every other
    `ix_` index of `table` dropped (in a transaction, rolled back) so the one asked for
    must serve alone."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
            # A covering index serves alone (the statement reads only its columns): it counts too.
            served = any(f"USING {how}INDEX {index} " in plan + " " for how in ("", "COVERING "))
            assert served and "TEMP B-TREE" not in plan, plan
            return
        cur = raw.cursor()
        cur.execute("SET enable_seqscan = off")
        cur.execute(f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexname LIKE 'ix_%%'")
        for (other,) in cur.fetchall():
            if other != index:
                cur.execute(f"DROP INDEX {other}")
        cur.execute("EXPLAIN " + statement, parameters)
        plan = " ".join(r[0] for r in cur.fetchall())
        raw.rollback()
        assert index in plan and "Sort" not in plan and not (no_scan and "Seq Scan" in plan), plan
