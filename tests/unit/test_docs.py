"""The README's map of the code and the settings guide stay true as the code moves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _map_rows() -> list[str]:
    table = README[README.index("## Map of the code"):]
    return [line for line in table.splitlines() if line.startswith("| `")]


def _paths_named(row: str) -> list[str]:
    """The paths of one row's first cell: `a/b.py`, `c.py` (siblings of the first), `dir/`."""
    cell = row.split("|")[1]
    names = re.findall(r"`([^`]+)`", cell)
    out, base = [], ""
    for n in names:
        if "/" in n:
            base = n.rsplit("/", 1)[0] + "/" if not n.endswith("/") else ""
            out.append(n)
        else:
            out.append(base + n)
    return out


def test_every_path_the_map_names_exists():
    missing = [p for row in _map_rows() for p in _paths_named(row)
               if not (list(ROOT.glob(p)) if "*" in p else (ROOT / p.rstrip("/")).exists())]
    assert not missing, f"the README's map names paths that do not exist: {missing}"


def test_every_module_is_on_the_map():
    named = {p for row in _map_rows() for p in _paths_named(row)}
    folders = {p for p in named if p.endswith("/")}

    def covered(rel: str) -> bool:
        return (rel in named or any(rel.startswith(f) for f in folders)
                or any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), rel) for p in named if "*" in p))

    modules = [p.relative_to(ROOT).as_posix() for d in ("app", "worker", "bench", "jobdeck")
               for p in (ROOT / d).glob("*.py") if p.name != "__init__.py"]
    modules += [p.relative_to(ROOT).as_posix() + "/" for d in ("app", "worker")
                for p in (ROOT / d).iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    absent = sorted(m for m in modules if not covered(m))
    assert not absent, f"modules missing from the README's map of the code: {absent}"


def test_every_setting_is_documented():
    read = set(re.findall(r"JOBDECK_[A-Z0-9_]+", (ROOT / "app/settings.py").read_text()))
    documented = set(re.findall(r"JOBDECK_[A-Z0-9_]+", (ROOT / "docs/settings.md").read_text()))
    assert read - documented == set(), f"settings missing from docs/settings.md: {sorted(read - documented)}"


def test_the_guides_the_readme_links_exist():
    links = re.findall(r"\]\((docs/[^)#]+)", README)
    assert links and all((ROOT / link).is_file() for link in links), links


def test_every_guide_is_linked_from_the_readme():
    links = set(re.findall(r"\]\((docs/[^)#]+)", README))
    guides = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert guides <= links, f"guides the README does not link: {sorted(guides - links)}"
