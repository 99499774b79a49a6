"""Phase mixed: random load with bursts over capacity for --minutes, then the consistency checks."""
import http.client
import os
import random
import re
import statistics
import threading
import time
from collections import Counter

from .client import call, path_of, random_prompt, request_body, stream
from .common import STOPPING
from .server import Server, http_statuses
from .threads import join_all, start_threads
from .verdict import Verdict, idle_figures, percentile, wait_idle

RSS_EVERY_S = 2
RSS_GROWTH_FRACTION = 0.10
RSS_GROWTH_MIB = 32
BURST_SIZE = 48
BURST_EVERY_S = 20
PROGRESS_EVERY_S = 30
MIXED_SERVER_FLAGS = ["--max-num-seqs", "16", "--max-waiting", "16"]  # 32 requests fill it: bursts get 503


class Ledger:
    """Every generation request of the mixed phase, appended by the client and burst threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def add(self, record):
        with self.lock:
            self.records.append(record)

    def snapshot(self):
        with self.lock:
            return list(self.records)


def mixed_request(server, rng, ledger):
    """Sends one randomly drawn request and records what it saw, with any protocol problem."""
    streamed, chat = rng.random() < 0.5, rng.random() < 0.5
    n = rng.choice((1, 1, 1, 1, 1, 1, 2, 3))
    body = request_body(chat, random_prompt(rng), rng.randint(8, 64), n, streamed, seed=rng.randrange(1 << 31))
    if streamed:
        close_after = rng.randint(1, 4) if rng.random() < 0.1 else None
        ledger.add(stream_record(stream(server, path_of(chat), body, close_after_events=close_after), n))
    else:
        ledger.add(plain_record(server, path_of(chat), body, n))


def stream_record(result, n):
    """A ledger record of one stream, judged: a complete 200 needs [DONE], no error and every finish."""
    record = {"streamed": True, "status": result.status, "disconnected": result.disconnected,
              "retry_after": result.retry_after, "tokens": 0, "seconds": result.seconds, "problem": None}
    if result.exception:
        record["problem"] = f"stream failed: {result.exception}"
    elif result.status == 200 and not result.disconnected:
        record["tokens"] = result.completion_tokens
        if not result.done:
            record["problem"] = f"200 stream ended without [DONE] after {result.events} events"
        elif result.error_event:
            record["problem"] = f"200 stream carried an error event: {result.error_event}"
        elif result.finished_choices != n:
            record["problem"] = f"200 stream finished {result.finished_choices} of {n} choices"
    return record


def plain_record(server, path, body, n):
    """A ledger record of one non-streamed request, judged: a 200 needs n choices and usage."""
    record = {"streamed": False, "status": None, "disconnected": False, "retry_after": None, "tokens": 0,
              "seconds": 0.0, "problem": None}
    try:
        reply = call(server, "POST", path, body)
    except (OSError, http.client.HTTPException) as e:
        record["problem"] = f"request failed: {type(e).__name__}: {e}"
        return record
    record.update(status=reply.status, retry_after=reply.retry_after, seconds=reply.seconds)
    if reply.status == 200:
        try:
            answer = reply.json()
        except ValueError as e:
            record["problem"] = f"200 answer is not JSON: {e}"
            return record
        record["tokens"] = (answer.get("usage") or {}).get("completion_tokens", 0)
        if len(answer.get("choices", [])) != n or "usage" not in answer:
            record["problem"] = f"200 answer with {len(answer.get('choices', []))} choices (asked {n}), " \
                                f"usage {answer.get('usage')}"
    return record


def client_loop(server, rng, ledger, stop_at):
    """One client: requests back to back until the phase ends."""
    while time.monotonic() < stop_at and not STOPPING.is_set():
        mixed_request(server, rng, ledger)


def burst_loop(server, rng, ledger, stop_at):
    """Every BURST_EVERY_S, BURST_SIZE requests at once: more than the server admits, so some get 503."""
    while time.monotonic() + BURST_EVERY_S < stop_at:
        if STOPPING.wait(BURST_EVERY_S):
            return
        jobs = [(server, random.Random(rng.random()), ledger) for _ in range(BURST_SIZE)]
        join_all(start_threads(mixed_request, jobs))


def rss_loop(server, ledger, samples, stop_at):
    """Samples the server's RSS every RSS_EVERY_S and prints a progress line every PROGRESS_EVERY_S."""
    start = last_progress = time.monotonic()
    while time.monotonic() < stop_at and not STOPPING.is_set():
        rss = server.rss_mib()
        if rss is not None:
            samples.append((time.monotonic() - start, rss))
        if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
            last_progress = time.monotonic()
            records = ledger.snapshot()
            print(f"  ... {time.monotonic() - start:.0f} s: {len(records)} requests "
                  f"({sum(r['status'] == 503 for r in records)} x 503), RSS {rss or 0:.1f} MiB", flush=True)
        STOPPING.wait(RSS_EVERY_S)


def check_statuses(verdict, records):
    """Only 200 and 503; every 503 with Retry-After; no stream or answer problem."""
    statuses = Counter(r["status"] for r in records)
    verdict.check(set(statuses) <= {200, 503},
                  f"statuses seen by the clients: {dict(statuses)} (only 200 and 503 allowed)")
    missing = sum(1 for r in records if r["status"] == 503 and not r["retry_after"])
    verdict.check(missing == 0, f"503 answers without Retry-After: {missing} of {statuses[503]}")
    verdict.check(statuses[503] > 0, f"503 answers under the bursts: {statuses[503]} (at least 1, "
                                     "or the overload path was not exercised)")
    problems = [r["problem"] for r in records if r["problem"]]
    complete_streams = sum(1 for r in records if r["streamed"] and r["status"] == 200 and not r["disconnected"])
    verdict.check(not problems, f"{complete_streams} complete 200 streams (each must end in [DONE], every choice "
                                f"finished, no error event) and {statuses[200] - complete_streams} other 200s: "
                                f"{len(problems)} problem(s)" + (f", first: {problems[0]}" if problems else ""))


def check_rss(verdict, timed_samples, path):
    """Flat after warm-up: last-quarter median vs first-quarter median, failing only on both thresholds.

    The samples are also written to `path` (seconds, MiB) for a plot."""
    with open(path, "w") as out:
        out.writelines(f"{t:.1f}\t{rss:.1f}\n" for t, rss in timed_samples)
    samples = [rss for _, rss in timed_samples]
    if len(samples) < 8:
        verdict.check(False, f"RSS: only {len(samples)} samples (need 8)")
        return
    quarter = len(samples) // 4
    first, last = statistics.median(samples[:quarter]), statistics.median(samples[-quarter:])
    grew = last > first * (1 + RSS_GROWTH_FRACTION) and last - first > RSS_GROWTH_MIB
    verdict.check(not grew, f"RSS flat: first-quarter median {first:.1f} MiB, last-quarter median {last:.1f} MiB "
                            f"({last - first:+.1f} MiB, {100 * (last / first - 1):+.1f}%), max {max(samples):.1f} MiB, "
                            f"{len(samples)} samples in {path}; fails only if last > first by more than "
                            f"{100 * RSS_GROWTH_FRACTION:.0f}% AND more than {RSS_GROWTH_MIB} MiB")


def check_metrics_agree(verdict, records, tally, metrics):
    """The server's per-status counters and token counter against what the clients saw."""
    server = http_statuses(metrics)
    verdict.check(server[503] == tally[503], f"http_requests_total 503: server {server[503]}, clients {tally[503]}")
    verdict.check(server[200] + server[499] == tally[200] + tally["disconnected"],
                  f"http_requests_total 200+499: server {server[200]}+{server[499]}, clients {tally[200]} complete "
                  f"200s (/health and /metrics included) + {tally['disconnected']} disconnects")
    verdict.check(server[499] <= tally["disconnected"],
                  f"499s ({server[499]}) at most the streams the clients closed ({tally['disconnected']})")
    others = {s: c for s, c in server.items() if s not in (200, 499, 503)}
    verdict.check(not others and not tally["error"],
                  f"other statuses at the server: {others or 'none'}; client socket errors: {tally['error']}")
    seen = sum(r["tokens"] for r in records if r["status"] == 200 and not r["disconnected"])
    generated = int(metrics.get("sabre:generation_tokens_total", 0))
    verdict.check(generated >= seen, f"generation_tokens_total {generated} >= {seen} completion tokens the "
                                     "clients saw in complete answers")


def mixed_figures(records, seconds):
    """requests/s, tokens/s and the latency of complete non-streamed requests."""
    latencies = [r["seconds"] for r in records if not r["streamed"] and r["status"] == 200]
    tokens = sum(r["tokens"] for r in records if r["status"] == 200 and not r["disconnected"])
    statuses = Counter(r["status"] for r in records)
    return (f"{len(records)} requests in {seconds:.0f} s ({len(records) / seconds:.2f} req/s; "
            f"{statuses[200]} x 200, {statuses[503]} x 503, {sum(r['disconnected'] for r in records)} closed "
            f"mid-stream), {tokens / seconds:.1f} completion tokens/s, non-streamed latency "
            f"p50 {percentile(latencies, 50):.2f} s p99 {percentile(latencies, 99):.2f} s (n={len(latencies)})")


def kv_block_size(server):
    """Tokens per KV block, from the engine's start-up log line (16, the CPU default, if it does not say)."""
    try:
        with open(server.log_path, errors="replace") as log:
            match = re.search(r"KV blocks of (\d+) tokens", log.read())
    except OSError:
        match = None
    return int(match.group(1)) if match else 16


def touch_kv_pool(server, verdict):
    """Warm-up: walks distinct prompts through the whole KV pool before the RSS is sampled.

    The pool is allocated at start-up but its pages become resident only when first written; cached prompt
    blocks go to the back of the free queue, so the pool fills over the first minutes of any load. Without
    this, a short run would read that first touch as a leak."""
    tokens = int(server.metrics()["sabre:kv_cache_blocks_total"]) * kv_block_size(server)
    per_prompt, workers = 1024, 4
    count = tokens * 21 // 20 // per_prompt + 1  # 5% over: every block taken fresh at least once
    rng = random.Random(0)
    bodies = [{"prompt": [rng.randrange(300, 20000) for _ in range(per_prompt)], "max_tokens": 1}
              for _ in range(count)]
    answers, before, start = [], server.rss_mib(), time.monotonic()

    def send(share):  # one of the warm-up's workers
        for body in share:
            if STOPPING.is_set():
                return
            try:
                answers.append(call(server, "POST", "/v1/completions", body).status)
            except (OSError, http.client.HTTPException) as e:
                answers.append(f"{type(e).__name__}: {e}")

    join_all(start_threads(send, [(bodies[i::workers],) for i in range(workers)]))
    statuses = Counter(answers)
    verdict.check(statuses[200] == count, f"warm-up: {count} prompts of {per_prompt} distinct token ids "
                                          f"({count * per_prompt} tokens, the pool holds {tokens}) in "
                                          f"{time.monotonic() - start:.1f} s, statuses {dict(statuses)}, RSS "
                                          f"{before:.1f} -> {server.rss_mib():.1f} MiB")


def run_mixed(args, rng):
    """Mixed load for --minutes with bursts, then the consistency checks."""
    verdict = Verdict("mixed")
    server = Server(args, "mixed", MIXED_SERVER_FLAGS)
    touch_kv_pool(server, verdict)
    ledger, samples = Ledger(), []
    start = time.monotonic()
    stop_at = start + args.minutes * 60
    print(f"  {args.clients} clients for {args.minutes:g} min, a burst of {BURST_SIZE} every {BURST_EVERY_S} s",
          flush=True)
    threads = start_threads(client_loop, [(server, random.Random(rng.random()), ledger, stop_at)
                                          for _ in range(args.clients)])
    threads += start_threads(burst_loop, [(server, random.Random(rng.random()), ledger, stop_at)])
    threads += start_threads(rss_loop, [(server, ledger, samples, stop_at)])
    join_all(threads)
    seconds = time.monotonic() - start
    records = ledger.snapshot()
    check_statuses(verdict, records)
    check_rss(verdict, samples, os.path.join(args.workdir, "mixed-rss.tsv"))
    waited, metrics, idle = wait_idle(server)
    verdict.check(idle, f"idle {waited:.1f} s after the load: {idle_figures(metrics)}")
    time.sleep(0.5)  # the last scrape's own count lands after its answer is written
    tally = server.counts()
    check_metrics_agree(verdict, records, tally, server.metrics())
    verdict.check(server.proc.poll() is None, "server still running")
    if verdict.failures:
        print(server.log_tail(), flush=True)
    server.stop()
    return verdict.finish(mixed_figures(records, seconds))
