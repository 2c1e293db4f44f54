/// A log-linear latency histogram in microseconds (HdrHistogram's bucket layout with
/// 64 sub-buckets per power of two: every recorded value is kept to within ~1.6 %).
/// Not thread safe: every event loop owns one, and they are merged at the end.
struct Histogram: Sendable {
    private static let subBucketBits = 7  // 128 linear values in the first bucket, then 64 per octave
    private static let halfCount = 1 << (subBucketBits - 1)
    private(set) var counts: [UInt64]
    private(set) var count: UInt64 = 0
    private(set) var max: UInt64 = 0
    private(set) var sum: UInt64 = 0

    init() {
        counts = Array(repeating: 0, count: (64 - Self.subBucketBits + 2) * Self.halfCount)
    }

    static func index(of value: UInt64) -> Int {
        let msb = 63 - value.leadingZeroBitCount  // -1 ... 63 (value 0 gives 64 leading zeros)
        let bucket = Swift.max(0, msb - (subBucketBits - 1))
        return bucket * halfCount + Int(value >> UInt64(bucket))
    }

    /// The highest value that lands in `index`.
    static func upperBound(of index: Int) -> UInt64 {
        let bucket = index < 2 * halfCount ? 0 : index / halfCount - 1
        let sub = UInt64(index - bucket * halfCount)
        return ((sub + 1) << UInt64(bucket)) - 1
    }

    mutating func record(_ micros: UInt64) {
        counts[Self.index(of: micros)] &+= 1
        count &+= 1
        sum &+= micros
        if micros > max { max = micros }
    }

    mutating func merge(_ other: Histogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count &+= other.count
        sum &+= other.sum
        max = Swift.max(max, other.max)
    }

    /// The value at percentile `p` (0...100), in microseconds (upper edge of its bucket).
    func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((p / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Self.upperBound(of: i), max) }
        }
        return max
    }

    var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}

extension UInt64 {
    /// Microseconds as milliseconds with two decimals.
    var ms: String {
        let value = Double(self) / 1000
        return String(format: "%.2f", value)
    }
}
