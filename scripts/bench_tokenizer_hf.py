#!/usr/bin/env python3
"""HF `tokenizers` encode throughput on the benchmark text, to compare with sabre-bench-tokenizer.

Usage: python scripts/bench_tokenizer_hf.py --tokenizer DIR --file F [--repeat N]

Prints MB/s for (1) one encode() call on the whole text, single-threaded by construction, and
(2) encode_batch() over the text's lines, which `tokenizers` spreads over all cores with rayon (run it
with RAYON_NUM_THREADS=1 for a single-threaded batch figure).
"""
import argparse
import os
import time

from tokenizers import Tokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--add-special-tokens", action="store_true")
    args = parser.parse_args()
    path = os.path.join(args.tokenizer, "tokenizer.json") if os.path.isdir(args.tokenizer) else args.tokenizer
    tok = Tokenizer.from_file(path)
    # newline="" keeps CR LF as is: the C++ benchmark reads the same bytes.
    text = open(args.file, encoding="utf-8", newline="").read()
    mb = len(text.encode("utf-8")) / 1e6
    # Lines split on "\n" only, each keeping its "\n", exactly as sabre-bench-tokenizer --lines does.
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])

    def timed(fn):
        # Best wall time and best process CPU time (all threads) over the runs: on a shared, busy
        # machine CPU time is the steadier of the two.
        best_wall = best_cpu = float("inf")
        result = None
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            result = fn()
            best_wall = min(best_wall, time.perf_counter() - w0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        return result, best_wall, best_cpu

    enc, wall, cpu = timed(lambda: tok.encode(text, add_special_tokens=args.add_special_tokens))
    print(f"HF encode (single call): {mb / wall:.2f} MB/s wall, {mb / cpu:.2f} MB/s CPU, best of {args.repeat} "
          f"({len(enc.ids)} tokens, {mb:.2f} MB)")

    out, wall, cpu = timed(lambda: tok.encode_batch(lines, add_special_tokens=args.add_special_tokens))
    n = sum(len(e.ids) for e in out)
    threads = os.environ.get("RAYON_NUM_THREADS", f"all {os.cpu_count()}")
    print(f"HF encode_batch ({len(lines)} lines, threads {threads}): {mb / wall:.2f} MB/s wall, "
          f"{mb / cpu:.2f} MB/s CPU (all threads), best of {args.repeat} ({n} tokens)")


if __name__ == "__main__":
    main()
