-- Guests and server administrators (issue 16). Columns only: the users table is never rebuilt
-- (other areas add columns to it in parallel; docs/ARCHITECTURE.md, Persistence).
--
-- users.guest_expires_at: NULL for an account; for a guest (POST /api/auth/guest) the end of its
-- one session, ms since the epoch. The guest sweep (GuestSweeper) removes a guest's memberships
-- and sessions once this has passed, and the row itself when nothing refers to it any more.
-- A guest has no email and no password; the NOT NULL columns hold placeholders that can never
-- be used: email `<username>@guest.invalid` (the reserved TLD of RFC 2606 §2: never deliverable;
-- the mail paths also skip guests by this column) and password_hash `!guest` (not a PHC string:
-- it never verifies; login refuses guests before looking at it).
ALTER TABLE users ADD COLUMN guest_expires_at BIGINT;
CREATE INDEX users_guest_expires_at ON users(guest_expires_at) WHERE guest_expires_at IS NOT NULL;

-- users.server_role: 'user', or 'admin' (above every room role; /api/admin/...). Bootstrapped
-- with `switchboard admin create` / `switchboard admin promote`.
ALTER TABLE users ADD COLUMN server_role TEXT NOT NULL DEFAULT 'user' CHECK (server_role IN ('user', 'admin'));

-- rooms.allow_guests: 1 when guests may join this public room (set by its owner or admins
-- at creation or with PATCH /api/rooms/{id}); 0 otherwise.
ALTER TABLE rooms ADD COLUMN allow_guests BIGINT NOT NULL DEFAULT 0 CHECK (allow_guests IN (0, 1));
