"""`jobdeck config export` and `jobdeck config import` through the installed entry point (a
subprocess) against a real server on a real port: the document written to a file and to
standard output byte for byte, a dry run that writes nothing, an import that changes,
a refusal that names the path of the bad value in one line, and a backend created and
removed by an import (its removal refused in one line while a task runs on it)."""

from __future__ import annotations

import httpx
import yaml

from tests.integration.api_live import token_for
from tests.integration.test_cli import cli, live  # noqa: F401 (fixtures)


def _configure(live) -> None:
    headers = {"Authorization": f"Bearer {token_for('root')}"}
    r = httpx.post(f"{live.url}/api/tasks", json={"name": "line count", "command": "wc -l {input}"},
                   headers=headers)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{live.url}/api/pipelines", headers=headers,
                   json={"name": "Count", "steps": [{"order": 1, "task": "line count"}]})
    assert r.status_code == 201, r.text


def test_config_export_and_import(cli, live, tmp_path):
    _configure(live)
    cli.login("root")
    path = tmp_path / "jobdeck.yaml"
    r = cli("config", "export", "-o", str(path), check=0)
    assert f"Wrote the configuration to {path}" in r.stdout
    text = path.read_text(encoding="utf-8")
    assert cli("config", "export", check=0).stdout == text  # standard output: the same bytes

    doc = yaml.safe_load(text)
    doc["tasks"][0]["timeout_s"] = 30
    doc["tasks"].append({"name": "upper", "backend": "pipeline", "kind": "command", "command": "tr a-z A-Z"})
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = cli("config", "import", str(changed), "--dry-run", check=0)
    assert "Dry run, nothing written: 1 to create, 1 to change, 0 to remove" in r.stdout
    assert "timeout_s" in r.stdout and "upper" in r.stdout
    assert cli("config", "export", check=0).stdout == text

    r = cli("config", "import", str(changed), check=0)
    assert "Imported: 1 created, 1 changed, 0 removed" in r.stdout
    now = yaml.safe_load(cli("config", "export", check=0).stdout)
    assert [(t["name"], t.get("timeout_s")) for t in now["tasks"]] == [("line count", 30), ("upper", None)]

    # From standard input, as JSON for a script; then a refusal in one line, naming the path.
    r = cli("config", "import", "-", "--dry-run", "--json", input=yaml.safe_dump(now), check=0)
    assert '"applied": false' in r.stdout and '"unchanged"' in r.stdout
    doc["tasks"][0]["parameters"] = [{"name": "n", "flag": "n"}]
    changed.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = cli("config", "import", str(changed), check=1)
    assert r.stderr.strip().startswith("Invalid input (422): tasks[0].parameters[0].flag: Flag 'n'")
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("config", "import", str(tmp_path / "missing.yaml"), check=1)
    assert "Cannot read" in r.stderr

    cli.login("alice")
    r = cli("config", "export", check=1)
    assert "(403)" in r.stderr


def test_config_import_creates_and_removes_backends(cli, live, tmp_path):
    _configure(live)
    cli.login("root")
    doc = yaml.safe_load(cli("config", "export", check=0).stdout)
    doc["backends"].append({"name": "gpu", "description": "The GPU hosts", "max_workers": 1})
    doc["tasks"].append({"name": "gpu count", "backend": "gpu", "kind": "command", "command": "wc -c {input}"})
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = cli("config", "import", str(path), "--dry-run", check=0)
    assert "Dry run, nothing written: 2 to create, 0 to change, 0 to remove" in r.stdout
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    assert ["create", "backend", "gpu"] in rows and ["create", "task", "gpu", "count"] in rows, r.stdout
    assert "Imported: 2 created" in cli("config", "import", str(path), check=0).stdout
    assert "The GPU hosts" in cli("backends", "show", "gpu", check=0).stdout

    # Removing gpu while its task stays on it: refused whole, in one line naming both.
    doc["backends"] = [b for b in doc["backends"] if b["name"] != "gpu"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = cli("config", "import", str(path), "--dry-run", check=1)
    assert r.stderr.strip().startswith("Conflict (409): backends: backend 'gpu' would be removed, but it runs task "
                                       "gpu count;") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    doc["tasks"] = [t for t in doc["tasks"] if t["name"] != "gpu count"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = cli("config", "import", str(path), check=0)
    assert "Imported: 0 created, 0 changed, 2 removed" in r.stdout
    assert [ln.split()[:3] for ln in r.stdout.splitlines()[2:]] == [["remove", "backend", "gpu"],
                                                                   ["remove", "task", "gpu"]], r.stdout
    assert "gpu" not in cli("backends", check=0).stdout
