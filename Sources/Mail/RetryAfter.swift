import Foundation

/// Parsing of the HTTP `Retry-After` header (RFC 9110 §10.2.3): either a
/// number of seconds or an HTTP-date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
public enum RetryAfter {
    /// The longest delay we accept from a header; anything larger is clamped.
    public static let maximum: Duration = .seconds(24 * 60 * 60)

    /// The delay a `Retry-After` value asks for, measured from `now`.
    ///
    /// Returns nil for a value that is neither form. A date in the past gives
    /// zero; a delay longer than ``maximum`` gives ``maximum``.
    public static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) {
            // Too many digits to fit is certainly more than the maximum.
            guard let seconds = Int64(trimmed) else { return Self.maximum }
            return min(.seconds(seconds), Self.maximum)
        }
        guard let date = Self.parseIMFFixdate(trimmed) else { return nil }
        let interval = date.timeIntervalSince(now)
        if interval <= 0 { return .zero }
        let whole = interval.rounded(.up)
        if whole >= 24 * 60 * 60 { return Self.maximum }
        return .seconds(Int64(whole))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    /// `day-name "," SP day SP month SP year SP hour ":" minute ":" second SP "GMT"`.
    static func parseIMFFixdate(_ value: String) -> Date? {
        let fields = value.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 6,
            fields[0].count == 4, fields[0].hasSuffix(","),
            Self.weekdays.contains(String(fields[0].dropLast())),
            fields[5] == "GMT",
            fields[1].count == 2, let day = Int(fields[1]), (1...31).contains(day),
            let monthIndex = Self.months.firstIndex(of: String(fields[2])),
            fields[3].count == 4, let year = Int(fields[3]), year >= 1970
        else { return nil }
        let time = fields[4].split(separator: ":", omittingEmptySubsequences: false)
        guard time.count == 3, time.allSatisfy({ $0.count == 2 }),
            let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = Self.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    /// well-known algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
