"""A registry item's create and new version are each one audit entry of their own
(`item.create`, `item.version`: who, via what, the item made as target, the outcome),
written with the item in one transaction, through the REST API and the console alike;
a refusal is one entry, never again as a request; the chain verifies."""

from __future__ import annotations

from app import manage
from app.audit_tables import AuditEntry
from app.routes import item as item_page
from app.state.item import ItemState
from app.state.items import ItemsState
from tests.integration.console_tab import TAB, Tab
from tests.integration.test_audit import _log


def _said(e: AuditEntry) -> tuple:
    return e.action, e.actor, e.via, e.target, e.outcome


def test_an_items_create_and_version_through_the_api_are_one_entry_each(api, capsys):
    alice, bob = api.as_("alice"), api.as_("bob")
    made = api.post("/api/items", json={"subtype": "DATASET", "display_name": "Daily rainfall",
                                        "record": {"units": "mm"}}, headers=alice).json()
    item, job = made["item"], made["job"]
    # its workflow's lodging is part of it: the create is the only entry
    assert [_said(e) for e in _log(via="api")] == [("item.create", "alice", "api", item["id"], "ok")]
    assert _log(via="api")[0].message == f"dataset 'Daily rainfall'; workflow {job['id']}"

    v = api.post(f"/api/items/{item['id']}/versions", json={"reason": "fixed the units"}, headers=alice).json()
    e = _log(action="item.version")
    assert [_said(x) for x in e] == [("item.version", "alice", "api", v["item"]["id"], "ok")]
    assert e[0].message == f"version 2 of {item['id']}; workflow {v['job']['id']}"

    # refusals reach the domain: each one entry of its own action, no request entry besides
    assert api.post(f"/api/items/{v['item']['id']}/versions", json={"reason": "mine now"},
                    headers=bob).status_code == 403
    assert api.post(f"/api/items/{item['id']}/versions", json={"reason": "again"}, headers=alice).status_code == 409
    assert api.post("/api/items", json={"subtype": "NO-SUCH-KIND", "display_name": "x"},
                    headers=alice).status_code == 422
    refused = [(e.action, e.actor, e.target) for e in _log(outcome="refused")]
    assert refused == [("item.create", "alice", "NO-SUCH-KIND 'x'"), ("item.version", "alice", item["id"]),
                       ("item.version", "bob", v["item"]["id"])], refused
    assert manage.main(["verify-audit"]) == 0
    assert "audit log intact" in capsys.readouterr().out


def test_an_items_create_and_version_through_the_console_are_one_entry_each(users):
    tab = Tab("alice")
    tab.fire(ItemsState, "create", {"display_name": "River flow", "description": "gauged"})
    created = _log(action="item.create")
    assert [(*_said(e), e.address) for e in created] == [
        ("item.create", "alice", "console", created[0].target, "ok", TAB)]
    first = created[0].target
    assert tab.state(ItemsState).form_error == ""

    tab.at(item_page(first)).fire(ItemState, "new_version", {"reason": "a longer record"})
    versioned = _log(action="item.version")
    assert [_said(e) for e in versioned] == [("item.version", "alice", "console", versioned[0].target, "ok")]
    assert versioned[0].target != first and versioned[0].message.startswith(f"version 2 of {first};")

    # bob may not version alice's item: the domain's refusal, recorded once (not as a request)
    other = Tab("bob").at(item_page(versioned[0].target))
    other.fire(ItemState, "new_version", {"reason": "mine now"})
    assert other.state(ItemState).version_error.startswith("Only the owner")
    assert [(e.action, e.actor, e.via, e.outcome) for e in _log(outcome="refused")] == [
        ("item.version", "bob", "console", "refused")]
    assert _log(action="request") == []
