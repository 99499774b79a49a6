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
    lines = text.splitlines(keepends=True)

    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=args.add_special_tokens).ids
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(f"HF encode (single call): {mb / best:.2f} MB/s best of {args.repeat} ({len(ids)} tokens, {mb:.2f} MB)")

    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = tok.encode_batch(lines, add_special_tokens=args.add_special_tokens)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    n = sum(len(e.ids) for e in out)
    threads = os.environ.get("RAYON_NUM_THREADS", f"all {os.cpu_count()}")
    print(f"HF encode_batch ({len(lines)} lines, threads {threads}): {mb / best:.2f} MB/s best of {args.repeat} ({n} tokens)")


if __name__ == "__main__":
    main()
