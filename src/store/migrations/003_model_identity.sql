-- 003: a collection is bound to its model's identity, not only to a name: the fingerprint of the
-- weights and preprocessing (src/bundle/fingerprint.ts) and the family, beside the name (kept for
-- messages) and D. Collections made before this migration have NULL here: they are bound by
-- name until the first model that uses them under that name (its served name or its folder's
-- name) with the same D records its fingerprint (catalogue.ts); from then on they are bound to
-- those weights like any other. They stay searchable throughout.
ALTER TABLE clip_collections ADD COLUMN model_fingerprint text CHECK (model_fingerprint ~ '^[0-9a-f]{64}$');
ALTER TABLE clip_collections ADD COLUMN model_family text;
