import Foundation

/// The one JSON encoder configuration of every REST response: object keys sorted, so the
/// same answer is the same bytes every time (a dictionary's own order changes from one
/// process to the next; stable bytes give stable ETags, logs and tests, and no client can
/// come to depend on an accidental order). Dates, where a type still carries `Date`, are
/// ISO 8601 (as Hummingbird's default encoder writes them).
///
/// Socket.IO payloads get the same guarantee from the relay's own JSON writer.
public enum WireJSON {
    /// A new encoder: `.sortedKeys`, ISO 8601 dates. `JSONEncoder` is a class whose settings
    /// are mutable, so each caller gets its own.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
