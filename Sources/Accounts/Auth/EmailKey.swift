extension AccountValidation {
    /// The form under which email addresses are compared: one mailbox, one account.
    ///
    /// The whole address with its ASCII letters lowercased (`Mixed.Case@Example.Test` and
    /// `mixed.case@example.test` are one account). RFC 5321 §2.4 lets a receiving host treat
    /// the local part as case-sensitive ("MAY"), but it also says exploiting that "SHOULD be
    /// avoided"; the large mailbox providers ignore case, and a user who types their address
    /// with other capitals expects the same account, not a second one (or a failed login or
    /// a reset mail that never comes). The domain is case-insensitive anyway (RFC 5321 §2.4,
    /// RFC 1035 §2.3.3). Mail still goes to ``UserRecord/email``, the address as typed.
    ///
    /// Only ASCII letters fold: case equivalence of non-ASCII local parts (RFC 6531, SMTPUTF8)
    /// is not defined by any standard, and ASCII folding is exactly what the migration
    /// computes for existing rows in both dialects (SQLite's `lower()`, PostgreSQL's
    /// `lower(… COLLATE "C")`), so keys from Swift and from SQL always agree.
    ///
    /// Stored in `users.email_key` (unique); every lookup and throttle keyed by an address uses it.
    public static func emailKey(_ email: String) -> String {
        String(String.UnicodeScalarView(email.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }))
    }
}
