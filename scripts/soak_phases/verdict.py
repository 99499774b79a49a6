"""A phase's checks and its PASS/FAIL line, and the figures the checks share."""
import math
import time

from .common import SETTLE_TIMEOUT_S


class Verdict:
    """The checks of one phase, printed as they are made; finish() prints the PASS/FAIL line."""

    def __init__(self, phase):
        self.phase = phase
        self.failures = []

    def check(self, ok, text):
        """Records and prints one condition with its figures."""
        print(f"  [{'ok' if ok else 'FAIL'}] {text}", flush=True)
        if not ok:
            self.failures.append(text)
        return ok

    def note(self, text):
        """Prints figures that are not a condition."""
        print(f"  {text}", flush=True)

    def finish(self, figures):
        """The phase's PASS/FAIL line, printed and returned with the verdict."""
        line = f"{'FAIL' if self.failures else 'PASS'} {self.phase}: {figures}"
        if self.failures:
            line += f" ({len(self.failures)} check(s) failed: {'; '.join(self.failures)})"
        print(line, flush=True)
        return not self.failures, line


def percentile(values, p):
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def wait_idle(server, timeout=SETTLE_TIMEOUT_S):
    """Polls /metrics until no KV block is used and nothing runs or waits, or `timeout` passes.

    Returns (seconds waited, the last metrics, whether it was idle)."""
    start = time.monotonic()
    while True:
        metrics = server.metrics()
        idle = all(metrics.get(name, -1) == 0 for name in
                   ("sabre:kv_cache_blocks_used", "sabre:num_requests_running", "sabre:num_requests_waiting"))
        if idle or time.monotonic() - start > timeout:
            return time.monotonic() - start, metrics, idle
        time.sleep(0.5)


def idle_figures(metrics):
    """The three gauges that must be 0 when the server is idle, as text (nan where missing)."""
    return " ".join(f"{name}={metrics.get('sabre:' + name, float('nan')):g}"
                    for name in ("kv_cache_blocks_used", "num_requests_running", "num_requests_waiting"))
