"""A small mutation tester for the parts of a module that function-level mutation tools
leave alone: module-level tables (the state machine's ALLOWED_FROM, FINAL…), decorated
functions (an lru_cache'd statement builder, a property) and their like.

    .venv/bin/python scripts/mutate.py app/lifecycle.py ALLOWED_FROM FINAL _update_stmt \
        JobStatus.is_final --tests "tests/unit/test_lifecycle.py -k 'not concurrent'" [--jobs 2]

Each mutant is one change to one of the named top-level names (an assignment, a function,
or Class.method): a comparison flipped, `and`/`or` swapped, a condition or `not` removed,
an `if` forced true or false, a constant changed, a statement deleted, a member added to or
removed from a set or tuple, an entry removed from a dict. Each is written into its own
copy of the tree (the work tree is never touched) and the chosen tests run there, in a
fork of this process that has the libraries imported already; a mutant survives when they
pass. Prints the survivors with the line they changed, and the counts.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", ".web", "data", "node_modules", "__pycache__", "mutants", ".venv")

FLIP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE,
        ast.LtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _targets(tree: ast.Module, names: list[str]) -> list[ast.AST]:
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(t, ast.Name):
                    found[t.id] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{sub.name}"] = sub
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"not found at the top level: {', '.join(missing)}")
    return [found[n] for n in names]


def _members(node: ast.AST) -> list[str]:
    """`S.X`-like members named in a set or tuple: the vocabulary a table's sets draw from."""
    return [ast.unparse(e) for e in getattr(node, "elts", []) if isinstance(e, ast.Attribute)]


def _mutations(target: ast.AST, vocabulary: list[str]):
    """(path to a node, description, function changing that node) for each mutant. The path
    is the node's index in ast.walk(target), so each mutant applies to a fresh copy."""
    nodes = list(ast.walk(target))
    # Annotations are never evaluated here (postponed evaluation), nor are the targets of
    # an unpacking meant to change: mutating them only makes noise.
    inert = {id(x) for a in ast.walk(target) for top in _inert_parts(a) for x in ast.walk(top)}
    for i, n in enumerate(nodes):
        if id(n) in inert:
            continue
        if isinstance(n, ast.Compare):
            for j, op in enumerate(n.ops):
                if type(op) in FLIP:
                    yield i, f"{type(op).__name__} -> {FLIP[type(op)].__name__}", \
                        (lambda n, j=j: n.ops.__setitem__(j, FLIP[type(n.ops[j])]()))
        elif isinstance(n, ast.BoolOp):
            yield i, "and <-> or", (lambda n: setattr(n, "op", ast.Or() if isinstance(n.op, ast.And) else ast.And()))
            for j in range(len(n.values)):
                yield i, f"drop operand {j} of {type(n.op).__name__}", (lambda n, j=j: n.values.pop(j))
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            yield i, "remove not", (lambda n: setattr(n, "operand", ast.UnaryOp(ast.Not(), n.operand)))  # not not x
        elif isinstance(n, ast.If):
            for v in (True, False):
                yield i, f"if -> {v}", (lambda n, v=v: setattr(n, "test", ast.Constant(v)))
        elif isinstance(n, ast.Constant) and not isinstance(getattr(n, "parent", None), ast.Expr):
            if isinstance(n.value, bool):
                yield i, f"{n.value} -> {not n.value}", (lambda n: setattr(n, "value", not n.value))
            elif isinstance(n.value, int):
                yield i, f"{n.value} -> {n.value + 1}", (lambda n: setattr(n, "value", n.value + 1))
            elif isinstance(n.value, str) and n.value:
                yield i, f"{n.value!r} -> 'XX{n.value}XX'", (lambda n: setattr(n, "value", f"XX{n.value}XX"))
        elif isinstance(n, (ast.Set, ast.Tuple, ast.List)) and n.elts:
            for j in range(len(n.elts)):
                yield i, f"remove member {ast.unparse(n.elts[j])}", (lambda n, j=j: n.elts.pop(j))
            have = set(_members(n))
            bases = {m.rsplit(".", 1)[0] for m in have}
            if have and len(bases) == 1 and len(have) == len(n.elts):  # a set of one namespace's names
                for extra in vocabulary:
                    if extra not in have and extra.rsplit(".", 1)[0] in bases:
                        yield i, f"add member {extra}", \
                            (lambda n, extra=extra: n.elts.append(ast.parse(extra, mode="eval").body))
        elif isinstance(n, ast.Dict) and len(n.keys) > 1:
            for j in range(len(n.keys)):
                if n.keys[j] is not None:
                    yield i, f"remove entry {ast.unparse(n.keys[j])}", \
                        (lambda n, j=j: (n.keys.pop(j), n.values.pop(j)))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.If, ast.For, ast.With, ast.While)):
            body = n.body
            for j, stmt in enumerate(body):
                if len(body) > 1 and not isinstance(stmt, ast.Return) and not (
                        j == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                    yield i, f"delete statement: {ast.unparse(stmt).splitlines()[0][:60]}", \
                        (lambda n, j=j: n.body.__setitem__(j, ast.Pass()))


def _inert_parts(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.AnnAssign):
        return [node.annotation]
    if isinstance(node, ast.arg) and node.annotation is not None:
        return [node.annotation]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [node.returns, *node.decorator_list] if node.returns else list(node.decorator_list)
    if isinstance(node, (ast.Tuple, ast.Name)) and isinstance(node.ctx, ast.Store):
        return [node]
    return []


def _mark_parents(tree: ast.AST) -> None:
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            child.parent = parent


def _source_of(tree: ast.Module) -> str:
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# Imported once here, before any mutant: each mutant's test run is a fork of this process
# that imports only the project (from its own copy), so a run costs its tests, not the
# import of the libraries. Nothing of the project itself may be imported here.
PRELOAD = ("pytest", "sqlalchemy", "sqlmodel", "redis", "redis.asyncio", "rq", "fastapi", "fastapi.testclient",
           "pydantic", "argon2", "httpx", "reflex", "alembic")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # not every library is needed by every test subset
            pass
    assert not any(m == "app" or m.startswith("app.") for m in sys.modules), "the project was imported early"


def _start(copy_dir: Path, tests: list[str]) -> int:
    """Fork a child that runs the tests in COPY_DIR; returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 99
    try:
        import pytest

        os.setsid()  # a group of its own: a timeout ends what its tests started too (redis-server)

        os.chdir(copy_dir)
        sys.path.insert(0, str(copy_dir))
        out = os.open(copy_dir / "mutant.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]))
    finally:
        os._exit(code)


def _run_all(items: list, slots: list[Path], tests: list[str], timeout: float, prepare, report) -> None:
    """Run each item's tests in a free slot, len(slots) at a time. PREPARE(slot, item)
    writes the mutant; REPORT(item, verdict) is told the outcome (a mutant survives when
    the tests pass; a failure, an import error or a timeout kills it)."""
    free, running, todo = list(slots), {}, list(items)
    while todo or running:
        while todo and free:
            slot, item = free.pop(), todo.pop(0)
            prepare(slot, item)
            running[_start(slot, tests)] = (slot, item, time.monotonic() + timeout)
        time.sleep(0.1)
        for pid, (slot, item, deadline) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done and time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                verdict = "killed (timeout)"
            elif done:
                verdict = "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
            else:
                continue
            del running[pid]
            free.append(slot)
            report(item, verdict)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="module to mutate, relative to the tree")
    ap.add_argument("names", nargs="+", help="top-level names: assignments, functions, Class.method")
    ap.add_argument("--tests", required=True, help="pytest arguments for each mutant, as one string")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    args.tests = shlex.split(args.tests)

    text = (ROOT / args.file).read_text()
    base = ast.parse(text)
    _mark_parents(base)
    # Names such as S.PENDING found in the module's set and tuple literals: a set of them
    # may gain any other name of the same namespace (a transition allowed by mistake).
    vocabulary = sorted({m for n in ast.walk(base) if isinstance(n, (ast.Set, ast.Tuple)) for m in _members(n)})
    plan = []  # (name, description, mutated source)
    for name, target in zip(args.names, _targets(base, args.names)):
        for idx, what, change in _mutations(target, vocabulary):
            tree = copy.deepcopy(base)
            node = list(ast.walk(_targets(tree, [name])[0]))[idx]
            change(node)
            plan.append((name, what, _source_of(tree)))
    original = _source_of(copy.deepcopy(base))

    work = Path(tempfile.mkdtemp(prefix="jobdeck-mutants-"))
    slots = [work / f"tree{i}" for i in range(args.jobs)]
    for s in slots:
        shutil.copytree(ROOT, s, ignore=SKIP, symlinks=True)
        os.symlink(ROOT / ".venv", s / ".venv")
        (s / args.file).write_text(original)
    print(f"{len(plan)} mutants of {args.file} ({', '.join(args.names)}); tests: {' '.join(args.tests)}", flush=True)
    _preload()
    baseline = []
    _run_all([None], slots[:1], args.tests, args.timeout, lambda slot, item: None,
             lambda item, verdict: baseline.append(verdict))
    if baseline != ["survived"]:
        raise SystemExit(f"the tests do not pass on the unmutated copy ({baseline}): see {slots[0]}/mutant.log")

    results = []

    def prepare(slot, item):
        (slot / args.file).write_text(item[2])

    def report(item, verdict):
        name, what, src = item
        changed = [l[1:].strip() for l in difflib.unified_diff(original.splitlines(), src.splitlines(), n=0,
                                                                lineterm="") if l.startswith("+") and not l.startswith("+++")]
        print(f"{verdict:17} {name}: {what}" + (f"  | {changed[0][:110]}" if changed else ""), flush=True)
        results.append((name, verdict))

    _run_all(plan, slots, args.tests, args.timeout, prepare, report)
    shutil.rmtree(work, ignore_errors=True)
    by_name: dict[str, list[int]] = {}
    for name, verdict in results:
        k = by_name.setdefault(name, [0, 0, 0])
        k[0 if verdict.startswith("killed") else 1] += 1
    print("\nname: generated / killed / survived")
    for name, (k, s, _) in by_name.items():
        print(f"  {name}: {k + s} / {k} / {s}")
    killed, survived = (sum(v[i] for v in by_name.values()) for i in range(2))
    print(f"  all: {killed + survived} / {killed} / {survived}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
