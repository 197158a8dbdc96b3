#!/usr/bin/env python3
"""
faiss beside clipql's near-duplicates (scripts/bench/collections/duplicates.ts): the same job on the same
vectors. faiss's HNSW (IndexHNSWFlat, inner product, the collection's M and ef_construction,
efSearch as clipql's walk sets it) answers each item's k + 1 nearest; pairs at or above the
threshold (the item itself left out) are the edges; groups are the connected components (union-find).

  .venv/bin/python scripts/bench/collections/faiss_duplicates.py VECTORS.f32 DIM --m 16 --ef-construction 64 --ef 40 --k 10 --threshold 0.95

Builds the index (2 threads), prints "READY {...}", then reads commands from stdin, one a line:
"SEARCH START END" searches rows START..END-1 one query at a time on one thread (as one SQL
backend does) and prints "DONE seconds"; "GROUPS FILE" unions the edges found so far, writes the
groups (lists of row numbers) to FILE and prints "RESULT {...}".
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
    p.add_argument("dim", type=int)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef", type=int, default=40)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threshold", type=float, default=0.95)
    a = p.parse_args(argv)
    xb = np.fromfile(a.vectors, dtype=np.float32).reshape(-1, a.dim)
    index, build = build_hnsw(xb, a.m, a.ef_construction, 2)
    index.hnsw.efSearch = a.ef
    print("READY " + json.dumps({"faiss": faiss.__version__, "n": len(xb), "buildS": round(build, 2)}), flush=True)
    edges = []
    searched = 0
    search_s = 0.0
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "SEARCH":
            start, end = int(cmd[1]), int(cmd[2])
            t = time.perf_counter()
            for i in range(start, end):
                scores, ids = index.search(xb[i:i + 1], a.k + 1)
                for s, j in zip(scores[0].tolist(), ids[0].tolist()):
                    if j >= 0 and j != i and s >= a.threshold - 1e-6:
                        edges.append((i, j))
            dt = time.perf_counter() - t
            search_s += dt
            searched += end - start
            print("DONE %.6f" % dt, flush=True)
        elif cmd[0] == "GROUPS":
            t = time.perf_counter()
            parent = list(range(len(xb)))

            def root(x):
                while parent[x] != x:
                    parent[x] = parent[parent[x]]
                    x = parent[x]
                return x

            for i, j in edges:
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
            groups = {}
            for i in range(len(xb)):
                groups.setdefault(root(i), []).append(i)
            found = [g for g in groups.values() if len(g) > 1]
            union_s = time.perf_counter() - t
            with open(cmd[1], "w") as f:
                json.dump(found, f)
            print("RESULT " + json.dumps({"faiss": faiss.__version__, "n": len(xb), "buildS": round(build, 2), "searched": searched, "searchS": round(search_s, 3), "unionS": round(union_s, 3), "groups": len(found), "itemsInGroups": sum(len(g) for g in found)}), flush=True)
            return


if __name__ == "__main__":
    main(sys.argv[1:])
