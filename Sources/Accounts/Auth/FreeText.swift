extension AccountValidation {
    /// The one control-character rule of every free-text field, so no field accepts what
    /// another refuses (issue 11 item 14: topics took what names refused).
    ///
    /// - Single-line text (display names, room names, room topics): refuses every control
    ///   or format character (Unicode general categories Cc and Cf, read from the scalar's
    ///   own properties), as ``displayName(_:)`` and room names do.
    /// - Multi-line text (message bodies): refuses control characters (Cc) other than tab,
    ///   line feed and carriage return. Format characters stay: a zero-width joiner holds
    ///   emoji sequences together and bidirectional marks belong to right-to-left text.
    ///
    /// - Returns: `value`, or the problem "must not contain control characters".
    public static func freeText(_ value: String, multiline: Bool = false) -> Result<String, FieldProblem> {
        let refused = value.unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .control: return !(multiline && (scalar == "\t" || scalar == "\n" || scalar == "\r"))
            case .format: return !multiline
            default: return false
            }
        }
        return refused ? .failure("must not contain control characters") : .success(value)
    }
}
