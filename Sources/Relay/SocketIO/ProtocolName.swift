/// A client-supplied protocol name (namespace, event, room) as a dictionary or set key,
/// compared by its UTF-8 bytes (so by Unicode scalars).
///
/// Swift's `String ==` and `Hashable` use canonical equivalence: `"/\u{212A}itchen"` (KELVIN
/// SIGN) equals `"/Kitchen"`, and `"e\u{301}"` equals `"\u{E9}"`. Node's socket.io compares names
/// with `===` and `Map` keys, code unit by code unit, so two names that differ in their scalars
/// are two names. Every place the relay matches a name a client sent uses this key (or
/// ``ProtocolName/equal(_:_:)``) so it reaches exactly what Node would reach.
struct ProtocolName: Hashable, Sendable, CustomStringConvertible {
    let string: String

    init(_ string: String) { self.string = string }

    var description: String { string }

    static func == (a: ProtocolName, b: ProtocolName) -> Bool { equal(a.string, b.string) }

    func hash(into hasher: inout Hasher) {
        var string = string
        // native strings are contiguous UTF-8: one call, no per-byte work
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Byte equality of two names (not canonical equivalence).
    static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }
}
