"""Phase storm: streams closed at random points; the KV cache must empty and the latency recover."""
import http.client
import math
import random
import statistics
import threading
import time
from collections import Counter

from .client import call, path_of, random_prompt, request_body, stream
from .common import SETTLE_TIMEOUT_S, STOPPING
from .server import Server
from .threads import join_all, start_threads
from .verdict import Verdict, idle_figures, wait_idle

STORM_CONCURRENCY = 64
STORM_SERVER_FLAGS = ["--max-num-seqs", "64"]


def probe(server):
    """Latency of one small greedy completion: the health of the decode loop as a client feels it."""
    reply = call(server, "POST", "/v1/completions", {"prompt": "The capital of France is", "max_tokens": 8,
                                                     "temperature": 0})
    if reply.status != 200:
        raise RuntimeError(f"probe answered {reply.status}: {reply.body[:200]!r}")
    return reply.seconds


def probe_median(server, count=3):
    """The median of a few probes: one slow scheduling hiccup should not decide the verdict."""
    return statistics.median(probe(server) for _ in range(count))


def storm_stream(server, rng, outcomes):
    """One stream of the storm, closed before the first byte, after 1-5 events, or just before [DONE]."""
    chat = rng.random() < 0.5
    how = rng.choice(("before-first-byte", "after-events", "before-done"))
    body = request_body(chat, random_prompt(rng), rng.randint(16, 48), 1, True, seed=rng.randrange(1 << 31),
                        ignore_eos=True)
    result = stream(server, path_of(chat), body, close_before_response=how == "before-first-byte",
                    close_after_events=rng.randint(1, 5) if how == "after-events" else None,
                    close_before_end=how == "before-done")
    outcomes.append((how, "closed" if result.disconnected else result.exception or result.status))


def storm_worker(server, rng, outcomes, next_index, total):
    """One of STORM_CONCURRENCY sockets: takes stream numbers until `total` are done."""
    while not STOPPING.is_set():
        with next_index["lock"]:
            if next_index["i"] >= total:
                return
            next_index["i"] += 1
        storm_stream(server, rng, outcomes)


def probe_loop(server, latencies, done):
    """Probes about once a second while the storm blows."""
    while not done.is_set() and not STOPPING.is_set():
        try:
            latencies.append(probe(server))
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            latencies.append(float("nan"))
            print(f"  probe during the storm failed: {e}", flush=True)
        done.wait(1.0)


def run_storm(args, rng):
    """--storm-streams streams dropped at random points; the KV cache must empty and latency recover."""
    verdict = Verdict("storm")
    server = Server(args, "storm", STORM_SERVER_FLAGS)
    probe(server)  # warm-up
    before = probe_median(server)
    outcomes, during, done = [], [], threading.Event()
    counter = {"lock": threading.Lock(), "i": 0}
    start = time.monotonic()
    prober = start_threads(probe_loop, [(server, during, done)])
    workers = start_threads(storm_worker, [(server, random.Random(rng.random()), outcomes, counter, args.storm_streams)
                                           for _ in range(STORM_CONCURRENCY)])
    join_all(workers)
    storm_seconds = time.monotonic() - start
    done.set()
    join_all(prober)
    waited, metrics, idle = wait_idle(server)
    after = probe_median(server)
    summary = Counter(f"{how}:{what}" for how, what in outcomes)
    verdict.note(f"outcomes: {dict(sorted(summary.items()))}")
    unexpected = [o for o in outcomes if o[1] not in ("closed", 200, 503)]
    verdict.check(not unexpected, f"streams failing other than by our close: {len(unexpected)}"
                                  + (f", first: {unexpected[0]}" if unexpected else ""))
    verdict.check(idle, f"idle {waited:.1f} s after the storm (limit {SETTLE_TIMEOUT_S} s): {idle_figures(metrics)}")
    limit = 2 * before + 0.5
    finite = [x for x in during if not math.isnan(x)] or [float("nan")]
    verdict.check(after <= limit, f"probe latency after {after:.3f} s <= 2 x before ({before:.3f} s) + 0.5 s = "
                                  f"{limit:.3f} s; during the storm: median {statistics.median(finite):.3f} s, "
                                  f"max {max(finite):.3f} s over {len(during)} probes")
    verdict.check(server.proc.poll() is None, "server still running")
    if verdict.failures:
        print(server.log_tail(), flush=True)
    server.stop()
    return verdict.finish(f"{len(outcomes)} streams in {storm_seconds:.1f} s ({STORM_CONCURRENCY} at once), "
                          f"KV idle after {waited:.1f} s, probe {before:.3f} s before / {after:.3f} s after")
