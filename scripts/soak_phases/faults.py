"""Phase faults: a full disk, a failing rank, SIGTERM under load and during a long prefill, a tokenizer error."""
import http.client
import signal
import threading
import time
from collections import Counter

from .client import Reply, call, path_of, request_body, stream
from .common import EXIT_SLACK_S, REQUEST_TIMEOUT_S, SHUTDOWN_GRACE_S
from .server import Server, stop_all_servers
from .threads import join_all, start_threads, wait_event
from .verdict import Verdict, wait_idle

FAULT_STEP = 40


def fault_full_disk(args, verdict):
    """(a) Logging to a full disk must not break serving or shutdown."""
    server = Server(args, "full-disk", log_to_full=True)
    plain = call(server, "POST", "/v1/completions", request_body(False, "Hello, my name is", 16))
    streamed = stream(server, "/v1/chat/completions", request_body(True, "Say hi", 16, 2, True))
    metrics = call(server, "GET", "/metrics")
    ok = plain.status == 200 and streamed.status == 200 and streamed.done and metrics.status == 200
    verdict.check(ok, f"(a) stdout/stderr on /dev/full: completion {plain.status}, chat stream {streamed.status} "
                      f"with [DONE] {streamed.done}, /metrics {metrics.status}")
    server.proc.send_signal(signal.SIGTERM)
    status = server.wait_exit(SHUTDOWN_GRACE_S + EXIT_SLACK_S)
    verdict.check(status == 0, f"(a) exit status after SIGTERM with a full disk: {status} (0 expected)")
    server.stop()


def fault_rank_step(args, verdict):
    """(b) A rank that throws mid-step: streams end with an error event and [DONE]; the server exits 1."""
    server = Server(args, "rank-fault", env={"SABRE_FAULT_INJECT_RANK_STEP": str(FAULT_STEP)})
    results = [None] * 4

    def one(i):
        results[i] = stream(server, path_of(i % 2 == 1),
                            request_body(i % 2 == 1, f"Tell me a story number {i}", 64, 1, True, ignore_eos=True))

    join_all(start_threads(one, [(i,) for i in range(len(results))]))
    for i, r in enumerate(results):
        ended = r.status == 200 and r.done and (r.error_event is not None or r.finished_choices == 1)
        verdict.check(ended, f"(b) stream {i}: status {r.status}, {r.events} events, error event "
                             f"{r.error_event!r}, finishes {r.finish_reasons}, [DONE] {r.done}"
                             + (f", {r.exception}" if r.exception else ""))
    verdict.check(any(r.error_event for r in results), "(b) at least one stream saw the injected failure")
    status = server.wait_exit(SHUTDOWN_GRACE_S + EXIT_SLACK_S)
    verdict.check(status == 1, f"(b) the server exits by itself with status 1 after the rank fails: {status}")
    if status != 1:
        print(server.log_tail(), flush=True)
    server.stop()


def fault_sigterm(args, verdict):
    """(c) SIGTERM with 8 streams in flight: each gets its final chunk and [DONE]; exit 0 within the grace."""
    server = Server(args, "sigterm")
    started = [threading.Event() for _ in range(8)]
    results = [None] * len(started)

    def one(i):
        results[i] = stream(server, path_of(i % 2 == 1),
                            request_body(i % 2 == 1, f"Write a long essay, part {i}", 1024, 1, True, ignore_eos=True),
                            started=started[i])

    threads = start_threads(one, [(i,) for i in range(len(started))])
    in_flight = all(wait_event(e, 60) for e in started)
    verdict.check(in_flight, f"(c) {sum(e.is_set() for e in started)} of {len(started)} streams in flight")
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    status = server.wait_exit(SHUTDOWN_GRACE_S + EXIT_SLACK_S)
    exited = time.monotonic() - sent
    join_all(threads, REQUEST_TIMEOUT_S)
    finals = [r is not None and r.done and r.finished_choices == 1 for r in results]
    reasons = Counter(reason for r in results if r for reason in r.finish_reasons)
    verdict.check(all(finals), f"(c) streams with a final chunk and [DONE]: {sum(finals)} of {len(results)} "
                               f"(finish reasons {dict(reasons)})")
    verdict.check(status == 0 and exited <= SHUTDOWN_GRACE_S + EXIT_SLACK_S,
                  f"(c) exit status {status} {exited:.2f} s after SIGTERM (0 within the {SHUTDOWN_GRACE_S} s grace "
                  f"+ {EXIT_SLACK_S} s expected)")
    if not all(finals) or status != 0:
        print(server.log_tail(), flush=True)
    server.stop()


def fault_sigterm_long_prefill(args, verdict):
    """(e) SIGTERM while a long prefill step runs (it cannot be interrupted): still exit within the grace."""
    server = Server(args, "sigterm-prefill")
    replies = [None] * 4

    def one(i):
        body = {"prompt": list(range(300 + i, 1324 + i)), "max_tokens": 1}
        try:
            replies[i] = call(server, "POST", "/v1/completions", body)
        except (OSError, http.client.HTTPException) as e:
            replies[i] = e

    threads = start_threads(one, [(i,) for i in range(len(replies))])
    time.sleep(3)  # the 4 x 1024-token prompts are being prefilled
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    status = server.wait_exit(SHUTDOWN_GRACE_S + EXIT_SLACK_S)
    exited = time.monotonic() - sent
    join_all(threads, REQUEST_TIMEOUT_S)
    answered = sum(isinstance(r, Reply) and r.status == 200 for r in replies)
    verdict.check(answered == len(replies), f"(e) requests answered: {answered} of {len(replies)}")
    verdict.check(status == 0 and exited <= SHUTDOWN_GRACE_S + EXIT_SLACK_S,
                  f"(e) exit status {status} {exited:.2f} s after SIGTERM during a long prefill")
    server.stop()


def fault_detokenize(args, verdict):
    """(d) A tokenizer failure in one sample's output ends that sample alone; the server keeps serving."""
    server = Server(args, "detokenize-fault", env={"SABRE_FAULT_INJECT_DETOKENIZE": "30"})
    results = [None] * 4

    def one(i):
        results[i] = stream(server, path_of(i % 2 == 1),
                            request_body(i % 2 == 1, f"Tell me a story number {i}", 48, 1, True, ignore_eos=True))

    join_all(start_threads(one, [(i,) for i in range(len(results))]))
    failed = [r for r in results if r.error_event]
    finished = [r for r in results if not r.error_event and r.done and r.finished_choices == 1]
    verdict.check(len(failed) == 1 and all(r.done for r in failed) and len(finished) == 3,
                  f"(d) streams: {len(failed)} ended with an error event and [DONE] (1 expected), {len(finished)} "
                  f"finished normally (3 expected)")
    waited, _, idle = wait_idle(server)
    verdict.check(idle, f"(d) every KV block free again after the failed sample ({waited:.1f} s)")
    after = call(server, "POST", "/v1/completions", request_body(False, "Hello again", 8))
    verdict.check(after.status == 200, f"(d) the server answers afterwards: {after.status}")
    if len(failed) != 1 or after.status != 200:
        print(server.log_tail(), flush=True)
    server.stop()


def run_faults(args, rng):
    """The four injected faults in turn, each on its own server; one that cannot start fails only itself."""
    verdict = Verdict("faults")
    for fault in (fault_full_disk, fault_rank_step, fault_sigterm, fault_sigterm_long_prefill, fault_detokenize):
        try:
            fault(args, verdict)
        except (OSError, RuntimeError, http.client.HTTPException, ValueError) as e:
            verdict.check(False, f"{fault.__name__}: {type(e).__name__}: {e}")
        stop_all_servers()
    return verdict.finish("full disk, rank fault at step 40, SIGTERM under load and during a long prefill, "
                          "tokenizer error mid-stream")
