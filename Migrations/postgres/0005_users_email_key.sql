-- One mailbox, one account (issue 11 item 10): emails are compared by `email_key`, the
-- address with ASCII letters lowercased; `email` keeps the address as typed (mail goes there).
-- Under the "C" collation PostgreSQL's lower() folds exactly the ASCII letters, as
-- AccountValidation.emailKey does (a database's own collation might fold more).
-- The server refuses to apply this migration while two rows share a key, listing them
-- (MigrationPreflight); the unique index below is the backstop.
ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
UPDATE users SET email_key = lower(email COLLATE "C");
CREATE UNIQUE INDEX users_email_key_unique ON users(email_key);
ALTER TABLE users ALTER COLUMN email_key DROP DEFAULT;
