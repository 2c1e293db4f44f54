-- Unicode case-insensitive user search (issue 18): users.display_name_key holds the display
-- name folded by AccountValidation.nameKey (NFKC, full case mapping; Swift, not SQL: PostgreSQL's
-- lower() depends on the database's LC_CTYPE, and SQLite's folds only ASCII, so the dialects would
-- disagree). Every write of a display name sets it; the rows that exist now are filled by this
-- migration's Swift step, in this migration's transaction (MigrationSwiftSteps). GET /api/users
-- matches a prefix of it as a range of the index (key >= q AND key < q's successor): the "C"
-- collation orders by bytes, i.e. by code points in UTF-8, as SQLite's BINARY does, so a prefix is
-- one range on both dialects whatever the database's own collation. Columns only: the users
-- table is never rebuilt.
ALTER TABLE users ADD COLUMN display_name_key TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX users_display_name_key ON users(display_name_key);
