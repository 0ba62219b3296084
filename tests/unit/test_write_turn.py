"""The write turn (app.write_turn): one holder at a time across processes and threads,
the next waiter let in as the holder lets go, a write inside a write passes, and a forked
child neither shares nor frees its parent's turn."""

import multiprocessing as mp
import threading
import time

from app.write_turn import WriteTurn


def _hold(path: str, log: str, tag: str, hold_s: float) -> None:
    turn = WriteTurn(path)
    with turn.held():
        with open(log, "a") as f:
            f.write(f"{tag} in {time.monotonic():.6f}\n")
        time.sleep(hold_s)
        with open(log, "a") as f:
            f.write(f"{tag} out {time.monotonic():.6f}\n")


def _spans(log: str) -> list[tuple[str, float, float]]:
    seen: dict[str, list[float]] = {}
    for line in open(log):
        tag, _, at = line.split()
        seen.setdefault(tag, []).append(float(at))
    return sorted((tag, a, b) for tag, (a, b) in seen.items())


def test_processes_and_threads_take_turns_one_at_a_time(tmp_path):
    path, log = str(tmp_path / "db-turn"), str(tmp_path / "log")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hold, args=(path, log, f"p{i}", 0.05)) for i in range(3)]
    threads = [threading.Thread(target=_hold, args=(path, log, f"t{i}", 0.05)) for i in range(3)]
    shared = WriteTurn(path)  # threads sharing one turn queue on its thread lock
    threads += [threading.Thread(target=lambda i=i: _shared(shared, log, f"s{i}")) for i in range(3)]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join()
    assert all(p.exitcode == 0 for p in procs)
    spans = sorted(_spans(log), key=lambda s: s[1])
    assert len(spans) == 9
    for (_, _, out), (tag, into, _) in zip(spans, spans[1:]):
        assert into >= out, f"{tag} went in before the holder came out"


def _shared(turn: WriteTurn, log: str, tag: str) -> None:
    with turn.held():
        with open(log, "a") as f:
            f.write(f"{tag} in {time.monotonic():.6f}\n")
        time.sleep(0.05)
        with open(log, "a") as f:
            f.write(f"{tag} out {time.monotonic():.6f}\n")


def test_a_write_inside_a_write_passes(tmp_path):
    turn = WriteTurn(str(tmp_path / "db-turn"))
    with turn.held():
        with turn.held():  # would wait for itself forever without the pass
            pass
    done = []
    t = threading.Thread(target=lambda: (turn.held().__enter__(), done.append(1)))
    t.start()
    t.join(2)
    assert done == [1], "the turn was not let go after the outer write"


def _child_takes(turn: WriteTurn, q) -> None:
    t0 = time.monotonic()
    with turn.held():
        q.put(time.monotonic() - t0)


def test_a_forked_child_waits_for_its_parents_turn_and_does_not_free_it(tmp_path):
    turn = WriteTurn(str(tmp_path / "db-turn"))
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    with turn.held():
        child = ctx.Process(target=_child_takes, args=(turn, q))
        child.start()
        time.sleep(0.3)
        assert q.empty(), "the child took the turn its parent holds"
    child.join(5)
    assert child.exitcode == 0 and q.get(timeout=1) >= 0.25
    # the child's turn ended with it: a next process takes it at once
    again = ctx.Process(target=_child_takes, args=(turn, q))
    again.start()
    again.join(5)
    assert again.exitcode == 0 and q.get(timeout=1) < 0.2
