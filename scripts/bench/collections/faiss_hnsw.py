"""faiss's HNSW as the store benchmarks' peer: one build, the same for every script that compares
pgvector with it (faiss_peer.py: recall and latency; faiss_duplicates.py: near-duplicate groups)."""
import time

import faiss


def build_hnsw(xb, m, ef_construction, threads):
    """An IndexHNSWFlat over the unit rows of `xb` (inner product = cosine), built on `threads`
    threads; returns it with the build's seconds. Searches are left to one thread, as pgvector's
    run on one backend."""
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(xb.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t = time.perf_counter()
    index.add(xb)
    build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    return index, build
