#!/usr/bin/env python3
"""
faiss beside clipql's store (scripts/bench/collections/store.ts --faiss): the same vectors and queries
(float32 files written by store.ts), the exact top 10 by faiss.IndexFlatIP (the ground truth), and
faiss's HNSW (IndexHNSWFlat, inner product, the same M and ef_construction as the collection) at
each ef_search: build rate, recall@10 against the exact top 10, latency p50 / p99 of single
queries (one thread each, as one SQL query uses one backend process).

  .venv/bin/python scripts/bench/collections/faiss_peer.py VECTORS.f32 QUERIES.f32 DIM --m 16 --ef-construction 64 --ef 40,100,400
Answers RESULT {...}; writes the exact top 10 of each query (ids as row numbers) to QUERIES.f32.top10.json.
"""
import argparse
import json
import sys
import time

import faiss
import numpy as np

from faiss_hnsw import build_hnsw


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("vectors")
    p.add_argument("queries")
    p.add_argument("dim", type=int)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef", default="40,100,400")
    p.add_argument("--threads", type=int, default=2, help="for the build (the searches run one query at a time on one thread)")
    a = p.parse_args(argv)
    xb = np.fromfile(a.vectors, dtype=np.float32).reshape(-1, a.dim)
    xq = np.fromfile(a.queries, dtype=np.float32).reshape(-1, a.dim)
    flat = faiss.IndexFlatIP(a.dim)
    flat.add(xb)
    _, truth = flat.search(xq, 10)
    with open(a.queries + ".top10.json", "w") as f:
        json.dump(truth.tolist(), f)
    index, build = build_hnsw(xb, a.m, a.ef_construction, a.threads)
    rows = []
    for ef in [int(x) for x in a.ef.split(",")]:
        index.hnsw.efSearch = ef
        lat, found = [], 0
        for i in range(len(xq)):
            t = time.perf_counter()
            _, ids = index.search(xq[i:i + 1], 10)
            lat.append((time.perf_counter() - t) * 1000)
            found += len(set(ids[0].tolist()) & set(truth[i].tolist()))
        lat.sort()
        rows.append({"efSearch": ef, "searchP50Ms": round(lat[len(lat) // 2], 3), "searchP99Ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3), "recallAt10": round(found / (10 * len(xq)), 4)})
        print("faiss ef %d: %s" % (ef, rows[-1]), file=sys.stderr, flush=True)
    out = {"faiss": faiss.__version__, "n": len(xb), "buildS": round(build, 2), "buildPerS": round(len(xb) / build), "buildThreads": a.threads, "search": rows}
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
