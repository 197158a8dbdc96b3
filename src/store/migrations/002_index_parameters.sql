-- 002: each collection's HNSW parameters, chosen at creation (store.ts createCollection) and used
-- whenever its index is built: at creation, and again after a bulk load (store.ts bulkLoad),
-- which drops the index of an empty collection, loads, then builds it once. Collections made
-- before this migration have pgvector's defaults, which their indexes were built with.
ALTER TABLE clip_collections ADD COLUMN hnsw_m integer NOT NULL DEFAULT 16 CHECK (hnsw_m BETWEEN 2 AND 100);
ALTER TABLE clip_collections ADD COLUMN hnsw_ef_construction integer NOT NULL DEFAULT 64 CHECK (hnsw_ef_construction BETWEEN 4 AND 1000);
