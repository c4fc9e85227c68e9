#!/usr/bin/env python3
"""Peer side of `bench/run faiss`: Debian's python3-faiss on the same data, index and queries as our C# wrapper.

Reads the raw float32 files the C# benchmark wrote, builds the index and prints {"build_s": ...} as one JSON
line. Then it answers commands read from stdin, one JSON line each, so the caller can interleave its own
measurements with ours (fairer on a busy machine):
  single       q/s searching one query per call (OpenMP threads as given by --threads)
  single1      the same with OpenMP limited to one thread
  batch        q/s searching in batches of --batch
  ids PATH     writes the one-query-per-call result ids (int64, queries x k) to PATH
  quit
"""
import argparse
import json
import sys
import time

import faiss
import numpy as np


def log(message):
    print(f"[peer] {message}", file=sys.stderr, flush=True)


def reply(payload):
    print(json.dumps(payload), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="raw float32 file, n x d")
    parser.add_argument("--queries", required=True, help="raw float32 file, nq x d")
    parser.add_argument("--d", type=int, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--description", default="HNSW32")
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    faiss.omp_set_num_threads(args.threads)
    base = np.fromfile(args.base, dtype=np.float32).reshape(-1, args.d)
    queries = np.fromfile(args.queries, dtype=np.float32).reshape(-1, args.d)
    k = args.k
    log(f"faiss {faiss.__version__}: {len(base)} x {args.d} base, {len(queries)} queries, {args.threads} OpenMP threads")

    index = faiss.index_factory(args.d, args.description, faiss.METRIC_L2)
    start = time.perf_counter()
    index.train(base)
    index.add(base)
    build_s = time.perf_counter() - start
    log(f"built {args.description} in {build_s:.1f} s")
    # 1.7.3 only partly honours SearchParametersHNSW (the queue keeps the index's efSearch): set it on the index.
    faiss.ParameterSpace().set_index_parameter(index, "efSearch", args.ef_search)

    ids = np.full((len(queries), k), -1, dtype=np.int64)

    def single_query_loop(count):
        start = time.perf_counter()
        for i in range(count):
            _, found = index.search(queries[i:i + 1], k)
            ids[i] = found[0]
        return count / (time.perf_counter() - start)

    single_query_loop(min(args.warmup, len(queries)))
    reply({"faiss_version": faiss.__version__, "build_s": build_s})

    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "single":
            reply({"qps": single_query_loop(len(queries))})
        elif command[0] == "single1":
            faiss.omp_set_num_threads(1)
            reply({"qps": single_query_loop(len(queries))})
            faiss.omp_set_num_threads(args.threads)
        elif command[0] == "batch":
            start = time.perf_counter()
            for i in range(0, len(queries), args.batch):
                index.search(queries[i:i + args.batch], k)
            reply({"qps": len(queries) / (time.perf_counter() - start)})
        elif command[0] == "ids":
            ids.tofile(command[1])
            reply({"ok": True})
        elif command[0] == "quit":
            break
        else:
            reply({"error": f"unknown command {command[0]}"})


if __name__ == "__main__":
    main()
