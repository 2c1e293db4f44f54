-- Account deletion (issue 18): a deleted account's row stays so that its messages keep an
-- author ("Deleted user"), but everything that identified the person is overwritten when
-- `deleted_at` is set (email, username, display name, password, identities, sessions).
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
