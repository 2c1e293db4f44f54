-- Unicode case-insensitive user search (issue 18): users.display_name_key holds the display
-- name folded by AccountValidation.nameKey (NFKC, full case mapping; Swift, not SQL: SQLite's
-- lower() folds only ASCII letters). Every write of a display name sets it; the rows that exist
-- now are filled by this migration's Swift step, in this migration's transaction
-- (MigrationSwiftSteps). GET /api/users matches a prefix of it as a range of the index
-- (key >= q AND key < q's successor), which SQLite's BINARY collation (UTF-8 byte order, the
-- order of code points) serves. Columns only: the users table is never rebuilt.
ALTER TABLE users ADD COLUMN display_name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX users_display_name_key ON users(display_name_key);
