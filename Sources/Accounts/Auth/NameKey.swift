import Foundation

extension AccountValidation {
    /// The form under which people's names are matched by search (`GET /api/users?q=`,
    /// ``UserDirectory``): letter case, compatibility forms and canonical equivalents folded,
    /// so "émile" finds "Émile", "özlem" finds "ÖZLEM", "strasse" finds "Straße".
    ///
    /// NFKC, then each letter's full uppercase mapping followed by its full lowercase mapping
    /// (Unicode scalar properties, no locale), then NFKC again: an approximation of the
    /// "compatibility caseless match" of the Unicode Standard §3.13 (D146, NFKC_Casefold) that
    /// agrees with full case folding on the letters names use (ß → ss, final ς → σ, ﬁ → fi,
    /// fullwidth Ｆ → f). It is computed in Swift only, never by SQL: SQLite's `lower()` folds
    /// ASCII alone and PostgreSQL's depends on the database's `LC_CTYPE`, so the two dialects
    /// could not give the same results.
    ///
    /// Stored in `users.display_name_key` (migration 0015) by every write of a display name
    /// (``UserStore``, ``GuestStore``, ``AccountDeletion``; existing rows by the migration's
    /// Swift step, ``MigrationRunner``). Usernames need no key: every username is already
    /// `[a-z0-9_.-]` (``username(_:)``, sign-in providers, guests, deleted accounts), which this
    /// function leaves unchanged.
    public static func nameKey(_ name: String) -> String {
        name.precomposedStringWithCompatibilityMapping.uppercased().lowercased().precomposedStringWithCompatibilityMapping
    }
}
