-- 001: pgvector and the catalogue of collections.
-- Each collection's items live in their own table, clip_items_<id>, created by store.ts from the
-- template in items-table.ts: its embedding column is vector(D) for the collection's model, and
-- an HNSW index (vector_cosine_ops) covers it. The model's name and D are recorded here.
-- The statement separator is a ';' at the end of a line (migrate.ts).
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE clip_collections (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  model text NOT NULL,
  dim integer NOT NULL CHECK (dim BETWEEN 1 AND 2000),
  created_at timestamptz NOT NULL DEFAULT now()
);
