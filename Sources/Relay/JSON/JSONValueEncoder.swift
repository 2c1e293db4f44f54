import Foundation

/// Encodes an `Encodable` value straight into a ``JSONValue``, giving what
/// `JSONEncoder` (default strategies) followed by parsing its output would give, without the
/// bytes in between: no `Data`, no text, no parse.
///
/// Rules, all as `JSONEncoder` with its defaults:
/// - keys as the type's coding keys spell them; an optional encoded with `encodeIfPresent`
///   (the synthesized conformance's way) is left out when nil;
/// - integers and floating-point values become `.number` (a `Double`, as the parse of the
///   encoder's digits gives; a `Float` by its shortest decimal form); NaN and infinities throw
///   `EncodingError.invalidValue` (the `.throw` strategy);
/// - `Date`, `Data`, `URL` and `Decimal` take `JSONEncoder`'s own path (seconds since 2001,
///   base64, the absolute string, the decimal's digits), as does a nested ``JSONValue`` holding
///   `.binary` (its `Encodable` conformance writes base64 through `Data`);
/// - a value that encodes nothing is `{}`.
///
/// Profiling a durable `message:send` showed `JSONEncoder` and the parse of its output among
/// the larger costs of building each event-log row and each emitted payload.
enum JSONValueEncoder {
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let slot = Slot()
        try encode(value, into: slot, codingPath: [])
        return slot.resolved
    }

    fileprivate static func encode<T: Encodable>(_ value: T, into slot: Slot, codingPath: [any CodingKey]) throws {
        switch value {
        case let json as JSONValue where !json.containsBinary:
            slot.node = .value(json)
        case is Date, is Data, is URL, is Decimal:
            let data = try JSONEncoder().encode(value)
            slot.node = .value(try data.withUnsafeBytes { try JSONParser.parse($0.bindMemory(to: UInt8.self)) })
        default:
            try value.encode(to: DirectEncoder(slot: slot, codingPath: codingPath))
        }
    }

    fileprivate static func number(_ value: Double, _ codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "Unable to encode \(value) directly in JSON."))
        }
        return .number(value)
    }

    fileprivate static func number(_ value: Float, _ codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "Unable to encode \(value) directly in JSON."))
        }
        return .number(Double("\(value)") ?? Double(value))
    }
}

// MARK: - Storage

/// Where one value goes; containers hand out slots for their elements.
private final class Slot {
    enum Node {
        case unset
        case value(JSONValue)
        case object(ObjectBox)
        case array(ArrayBox)
    }
    var node: Node = .unset

    var resolved: JSONValue {
        switch node {
        case .unset: return .object([:])
        case .value(let value): return value
        case .object(let box):
            var object: [String: JSONValue] = [:]
            object.reserveCapacity(box.entries.count)
            for (key, slot) in box.entries { object[key] = slot.resolved }
            return .object(object)
        case .array(let box): return .array(box.items.map(\.resolved))
        }
    }

    var objectBox: ObjectBox {
        if case .object(let box) = node { return box }
        let box = ObjectBox()
        node = .object(box)
        return box
    }

    var arrayBox: ArrayBox {
        if case .array(let box) = node { return box }
        let box = ArrayBox()
        node = .array(box)
        return box
    }
}

private final class ObjectBox {
    var entries: [String: Slot] = [:]

    func set(_ key: String, _ value: JSONValue) {
        let slot = Slot()
        slot.node = .value(value)
        entries[key] = slot
    }

    func slot(_ key: String) -> Slot {
        let slot = Slot()
        entries[key] = slot
        return slot
    }
}

private final class ArrayBox {
    var items: [Slot] = []

    func append(_ value: JSONValue) {
        let slot = Slot()
        slot.node = .value(value)
        items.append(slot)
    }

    func slot() -> Slot {
        let slot = Slot()
        items.append(slot)
        return slot
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

// MARK: - Encoder and containers

private struct DirectEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(box: slot.objectBox, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(box: slot.arrayBox, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(slot: slot, codingPath: codingPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: ObjectBox
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { box.set(key.stringValue, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { box.set(key.stringValue, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { box.set(key.stringValue, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { box.set(key.stringValue, try JSONValueEncoder.number(value, codingPath + [key])) }
    mutating func encode(_ value: Float, forKey key: Key) throws { box.set(key.stringValue, try JSONValueEncoder.number(value, codingPath + [key])) }
    mutating func encode(_ value: Int, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { box.set(key.stringValue, .number(Double(value))) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try JSONValueEncoder.encode(value, into: box.slot(key.stringValue), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedContainer<NestedKey>(box: box.slot(key.stringValue).objectBox, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedContainer(box: box.slot(key.stringValue).arrayBox, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        DirectEncoder(slot: box.slot("super"), codingPath: codingPath + [SuperKey()])
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        DirectEncoder(slot: box.slot(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: ArrayBox
    let codingPath: [any CodingKey]
    var count: Int { box.items.count }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(intValue: count)] }

    mutating func encodeNil() throws { box.append(.null) }
    mutating func encode(_ value: Bool) throws { box.append(.bool(value)) }
    mutating func encode(_ value: String) throws { box.append(.string(value)) }
    mutating func encode(_ value: Double) throws { box.append(try JSONValueEncoder.number(value, nextPath)) }
    mutating func encode(_ value: Float) throws { box.append(try JSONValueEncoder.number(value, nextPath)) }
    mutating func encode(_ value: Int) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { box.append(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { box.append(.number(Double(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try JSONValueEncoder.encode(value, into: box.slot(), codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: box.slot().objectBox, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return UnkeyedContainer(box: box.slot().arrayBox, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return DirectEncoder(slot: box.slot(), codingPath: path)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.node = .value(.null) }
    mutating func encode(_ value: Bool) throws { slot.node = .value(.bool(value)) }
    mutating func encode(_ value: String) throws { slot.node = .value(.string(value)) }
    mutating func encode(_ value: Double) throws { slot.node = .value(try JSONValueEncoder.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { slot.node = .value(try JSONValueEncoder.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { slot.node = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { slot.node = .value(.number(Double(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try JSONValueEncoder.encode(value, into: slot, codingPath: codingPath)
    }
}
