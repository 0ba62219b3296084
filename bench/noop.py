"""The function bare RQ runs in the throughput comparison."""


def noop() -> None:
    return None
