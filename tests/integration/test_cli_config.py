"""`jobdeck config export` and `jobdeck config import` through the installed entry point (a
subprocess) against a real server on a real port: the document written to a file and to
standard output byte for byte, a dry run that writes nothing, an import that changes,
and a refusal that names the path of the bad value in one line."""

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
