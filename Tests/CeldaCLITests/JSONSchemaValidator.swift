import Foundation

/// Validates JSON instances (as produced by JSONSerialization) against a JSON Schema subset.
///
/// Supported (draft 2020-12 semantics): `type` (string or array; `integer` is any number
/// with no fractional part, so `1.0` is an integer; booleans are never numbers), `const`,
/// `enum`, `minimum`, `maximum`, `minLength` (in Unicode scalars, i.e. code points),
/// `pattern` (unanchored ECMA-262-style search via NSRegularExpression), `minItems`,
/// `maxItems`, `items` (a single schema), `required`, `properties`, `additionalProperties`
/// (boolean or schema), `oneOf`, `anyOf`, and `$ref` to a local JSON pointer such as
/// `#/$defs/NAME`. Boolean schemas (`true`/`false`) are accepted anywhere a schema is.
///
/// Annotations and other unknown keywords (`$schema`, `$id`, `$defs`, `title`,
/// `description`, `format`, …) are ignored. Assertion or applicator keywords of draft
/// 2020-12 that this subset does not implement (`maxLength`, `allOf`, `not`,
/// `patternProperties`, …) make `init` throw rather than be silently skipped, so a schema
/// change can never make this validator weaker without anybody noticing.
///
/// Each violation is `"<JSON pointer of the instance location>: <message>"`; the pointer
/// of the root is the empty string, so a root-level violation starts with `": "`.
/// A missing required property is reported at the pointer where it should have been.
struct JSONSchemaValidator: Sendable {
    /// Why a schema could not be loaded; `pointer` locates the offending keyword in the schema.
    struct SchemaError: Error, CustomStringConvertible, Sendable {
        let pointer: String
        let message: String
        var description: String { "schema \(pointer.isEmpty ? "root" : pointer): \(message)" }
    }

    private let root: SchemaNode
    /// Compiled targets of every `$ref`, keyed by the reference text (`#/$defs/time`).
    private let references: [String: SchemaNode]

    init(schemaData: Data) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: schemaData, options: [.fragmentsAllowed])
        } catch {
            throw SchemaError(pointer: "", message: "not valid JSON: \(error.localizedDescription)")
        }
        let rootValue: JSONValue
        switch JSONValue.make(from: parsed) {
        case .success(let value): rootValue = value
        case .failure(let failure): throw SchemaError(pointer: failure.pointer, message: failure.message)
        }
        var compiler = SchemaCompiler(rootDocument: rootValue)
        root = try compiler.compile(rootValue, at: "")
        try compiler.compilePendingReferences()
        references = compiler.compiled
    }

    /// Returns human-readable violations, each prefixed by a JSON pointer of the instance location ("" when valid → empty array).
    func validate(_ instance: Any) -> [String] {
        switch JSONValue.make(from: instance) {
        case .failure(let failure):
            return ["\(failure.pointer): \(failure.message)"]
        case .success(let value):
            var violations: [String] = []
            check(value, against: root, at: "", depth: 0, into: &violations)
            return violations
        }
    }

    /// Convenience: parse one JSON text (e.g. one JSON Lines line) and validate it.
    func validate(jsonLine: String) -> [String] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(jsonLine.utf8), options: [.fragmentsAllowed])
        } catch {
            return [": not valid JSON: \(error.localizedDescription)"]
        }
        return validate(parsed)
    }

    // MARK: - Validation

    /// Guards against `$ref` cycles that never consume any of the instance (`{"$ref": "#"}`).
    private static let maximumDepth = 512

    private func check(
        _ value: JSONValue, against node: SchemaNode, at pointer: String, depth: Int,
        into violations: inout [String]
    ) {
        func fail(_ message: String, at location: String = pointer) {
            violations.append("\(location): \(message)")
        }
        guard depth < Self.maximumDepth else {
            fail("schema nesting deeper than \(Self.maximumDepth) (a $ref cycle?)")
            return
        }
        let rules: SchemaRules
        switch node {
        case .always(true): return
        case .always(false):
            fail("no value is allowed here (schema is false)")
            return
        case .rules(let compiledRules): rules = compiledRules
        }

        if let reference = rules.reference {
            // Every reference was resolved when the schema was loaded.
            if let target = references[reference] {
                check(value, against: target, at: pointer, depth: depth + 1, into: &violations)
            } else {
                fail("unresolved $ref \(reference)")
            }
        }

        if let types = rules.types, !types.contains(where: { $0.admits(value) }) {
            let expected = types.map(\.rawValue).joined(separator: " or ")
            fail("expected type \(expected), got \(value.typeName) \(value.rendered)")
        }
        if let constant = rules.constant, !value.isJSONEqual(to: constant) {
            fail("expected constant \(constant.rendered), got \(value.rendered)")
        }
        if let allowed = rules.allowedValues, !allowed.contains(where: { value.isJSONEqual(to: $0) }) {
            let list = allowed.map(\.rendered).joined(separator: ", ")
            fail("\(value.rendered) is not one of [\(list)]")
        }

        switch value {
        case .number(let number):
            if let minimum = rules.minimum, number.compare(to: minimum) < 0 {
                fail("\(number.rendered) is less than the minimum \(minimum.rendered)")
            }
            if let maximum = rules.maximum, number.compare(to: maximum) > 0 {
                fail("\(number.rendered) is greater than the maximum \(maximum.rendered)")
            }

        case .string(let string):
            if let minLength = rules.minLength {
                let length = string.unicodeScalars.count
                if length < minLength {
                    fail("string of length \(length) is shorter than minLength \(minLength)")
                }
            }
            if let pattern = rules.pattern, !pattern.isFound(in: string) {
                fail("\(value.rendered) does not match pattern \(pattern.source)")
            }

        case .array(let elements):
            if let minItems = rules.minItems, elements.count < minItems {
                fail("array has \(elements.count) items, fewer than minItems \(minItems)")
            }
            if let maxItems = rules.maxItems, elements.count > maxItems {
                fail("array has \(elements.count) items, more than maxItems \(maxItems)")
            }
            if let items = rules.items {
                for (index, element) in elements.enumerated() {
                    check(element, against: items, at: "\(pointer)/\(index)", depth: depth + 1, into: &violations)
                }
            }

        case .object(let members):
            for name in rules.required where members[name] == nil {
                fail(
                    "missing required property \(JSONValue.string(name).rendered)",
                    at: "\(pointer)/\(Self.escape(name))")
            }
            for name in members.keys.sorted() {
                guard let member = members[name] else { continue }
                let location = "\(pointer)/\(Self.escape(name))"
                if let propertySchema = rules.properties[name] {
                    check(member, against: propertySchema, at: location, depth: depth + 1, into: &violations)
                } else if let additional = rules.additionalProperties {
                    if case .always(false) = additional {
                        fail(
                            "property \(JSONValue.string(name).rendered) is not allowed (additionalProperties is false)",
                            at: location)
                    } else {
                        check(member, against: additional, at: location, depth: depth + 1, into: &violations)
                    }
                }
            }

        case .null, .bool:
            break
        }

        if let alternatives = rules.oneOf {
            var matching: [Int] = []
            var failures: [String] = []
            for (index, alternative) in alternatives.enumerated() {
                var branch: [String] = []
                check(value, against: alternative, at: pointer, depth: depth + 1, into: &branch)
                if branch.isEmpty {
                    matching.append(index)
                } else {
                    failures.append("[\(index)] " + branch.joined(separator: "; "))
                }
            }
            if matching.isEmpty {
                fail(
                    "matches none of the \(alternatives.count) oneOf alternatives: " + failures.joined(separator: " | ")
                )
            } else if matching.count > 1 {
                let indices = matching.map(String.init).joined(separator: ", ")
                fail("matches \(matching.count) oneOf alternatives (\(indices)); exactly one must match")
            }
        }
        if let alternatives = rules.anyOf {
            var failures: [String] = []
            var matched = false
            for (index, alternative) in alternatives.enumerated() {
                var branch: [String] = []
                check(value, against: alternative, at: pointer, depth: depth + 1, into: &branch)
                if branch.isEmpty {
                    matched = true
                    break
                }
                failures.append("[\(index)] " + branch.joined(separator: "; "))
            }
            if !matched {
                fail(
                    "matches none of the \(alternatives.count) anyOf alternatives: " + failures.joined(separator: " | ")
                )
            }
        }
    }

    /// One JSON pointer reference token (RFC 6901): `~` → `~0`, `/` → `~1`.
    fileprivate static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

// MARK: - JSON values

/// A JSON number, kept exact when the text was an integer that fits in 64 bits.
private enum JSONNumber: Sendable {
    case integer(Int64)
    case double(Double)

    var isIntegral: Bool {
        switch self {
        case .integer: return true
        case .double(let value): return value.isFinite && value.rounded(.towardZero) == value
        }
    }

    var rendered: String {
        switch self {
        case .integer(let value): return String(value)
        case .double(let value):
            if value.isFinite, value.rounded(.towardZero) == value, abs(value) < 1e15 {
                return String(Int64(value))
            }
            return String(value)
        }
    }

    /// The sign of `self - other`, computed exactly (no rounding of large integers).
    func compare(to other: JSONNumber) -> Int {
        switch (self, other) {
        case let (.integer(a), .integer(b)): return a < b ? -1 : (a > b ? 1 : 0)
        case let (.double(a), .double(b)): return a < b ? -1 : (a > b ? 1 : 0)
        case let (.integer(a), .double(b)): return Self.compare(a, b)
        case let (.double(a), .integer(b)): return -Self.compare(b, a)
        }
    }

    private static func compare(_ integer: Int64, _ double: Double) -> Int {
        if double >= 9_223_372_036_854_775_808.0 { return -1 }  // 2^63
        if double < -9_223_372_036_854_775_808.0 { return 1 }
        let floor = double.rounded(.down)
        let floorInteger = Int64(floor)
        if integer < floorInteger { return -1 }
        if integer > floorInteger { return 1 }
        return floor == double ? 0 : -1
    }
}

/// A JSON type name as used by the `type` keyword.
private enum JSONType: String, Sendable, CaseIterable {
    case null, boolean, object, array, number, string, integer

    func admits(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.null, .null), (.boolean, .bool), (.object, .object), (.array, .array),
            (.number, .number), (.string, .string):
            return true
        case (.integer, .number(let number)):
            return number.isIntegral
        default:
            return false
        }
    }
}

/// A parsed JSON value in which booleans and numbers can no longer be confused.
private enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    struct Failure: Error {
        let pointer: String
        let message: String
    }

    /// The class of `NSNumber(value: true)`: `__NSCFBoolean` on both Darwin and Linux
    /// Foundation, which is what JSONSerialization returns for `true` and `false`.
    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))

    static func make(from any: Any) -> Result<JSONValue, Failure> {
        do {
            return .success(try convert(any, at: ""))
        } catch {
            return .failure(error)
        }
    }

    // Booleans must be told apart from numbers before any bridging cast: on Linux as on
    // Darwin, `as? Bool` succeeds for the NSNumbers 0 and 1 and `as? Double` for `true`.
    // Native Swift scalars (from a dictionary literal) are matched by their exact dynamic
    // type first; whatever else is an NSNumber is then classified by its class and objCType.
    private static func convert(_ any: Any, at pointer: String) throws(Failure) -> JSONValue {
        let dynamicType = type(of: any)
        switch any {
        case is NSNull:
            return .null
        case let value as Bool where dynamicType == Bool.self:
            return .bool(value)
        case let value as Int where dynamicType == Int.self:
            return .number(.integer(Int64(value)))
        case let value as Int64 where dynamicType == Int64.self:
            return .number(.integer(value))
        case let value as Int32 where dynamicType == Int32.self:
            return .number(.integer(Int64(value)))
        case let value as UInt where dynamicType == UInt.self:
            return .number(value <= UInt(Int64.max) ? .integer(Int64(value)) : .double(Double(value)))
        case let value as Double where dynamicType == Double.self:
            return try finite(value, at: pointer)
        case let value as Float where dynamicType == Float.self:
            return try finite(Double(value), at: pointer)
        case let number as NSNumber:
            return try convert(number, at: pointer)
        case let value as String:
            return .string(value)
        case let elements as [Any]:
            var converted: [JSONValue] = []
            converted.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                converted.append(try convert(element, at: "\(pointer)/\(index)"))
            }
            return .array(converted)
        case let members as [String: Any]:
            var converted: [String: JSONValue] = [:]
            converted.reserveCapacity(members.count)
            for (name, member) in members {
                converted[name] = try convert(member, at: "\(pointer)/\(JSONSchemaValidator.escape(name))")
            }
            return .object(converted)
        default:
            throw Failure(pointer: pointer, message: "not a JSON value (\(dynamicType))")
        }
    }

    private static func convert(_ number: NSNumber, at pointer: String) throws(Failure) -> JSONValue {
        if ObjectIdentifier(type(of: number)) == booleanClass {
            return .bool(number.boolValue)
        }
        switch String(cString: number.objCType) {
        case "d", "f":
            return try finite(number.doubleValue, at: pointer)
        case "Q", "L", "I", "S", "C":
            let value = number.uint64Value
            return .number(value <= UInt64(Int64.max) ? .integer(Int64(value)) : .double(Double(value)))
        default:
            return .number(.integer(number.int64Value))
        }
    }

    private static func finite(_ value: Double, at pointer: String) throws(Failure) -> JSONValue {
        guard value.isFinite else {
            throw Failure(pointer: pointer, message: "not a JSON value (non-finite number \(value))")
        }
        return .number(.double(value))
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let number): return number.isIntegral ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Equality as JSON Schema defines it for `const` and `enum`: numbers by mathematical
    /// value (`1 == 1.0`), strings by code points, objects regardless of member order.
    func isJSONEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a.compare(to: b) == 0
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isJSONEqual(to: $1) }
        case let (.object(a), .object(b)):
            return a.count == b.count
                && a.allSatisfy { name, value in b[name].map { value.isJSONEqual(to: $0) } ?? false }
        default: return false
        }
    }

    /// Compact JSON text for messages, cut to a readable length.
    var rendered: String {
        let text = renderedInFull
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }

    private var renderedInFull: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let number): return number.rendered
        case .string(let string):
            var quoted = "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                case "\n": quoted += "\\n"
                case "\r": quoted += "\\r"
                case "\t": quoted += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        quoted.unicodeScalars.append(scalar)
                    }
                }
            }
            return quoted + "\""
        case .array(let elements):
            return "[" + elements.map(\.renderedInFull).joined(separator: ",") + "]"
        case .object(let members):
            let body = members.keys.sorted().map { name in
                JSONValue.string(name).renderedInFull + ":" + (members[name]?.renderedInFull ?? "null")
            }
            return "{" + body.joined(separator: ",") + "}"
        }
    }
}

// MARK: - Compiled schema

private indirect enum SchemaNode: Sendable {
    /// A boolean schema: `true` accepts everything, `false` nothing.
    case always(Bool)
    case rules(SchemaRules)
}

private struct SchemaRules: Sendable {
    var reference: String?
    var types: [JSONType]?
    var constant: JSONValue?
    var allowedValues: [JSONValue]?
    var minimum: JSONNumber?
    var maximum: JSONNumber?
    var minLength: Int?
    var pattern: RegexPattern?
    var minItems: Int?
    var maxItems: Int?
    var items: SchemaNode?
    var required: [String] = []
    var properties: [String: SchemaNode] = [:]
    var additionalProperties: SchemaNode?
    var oneOf: [SchemaNode]?
    var anyOf: [SchemaNode]?
}

/// A compiled `pattern`. NSRegularExpression is immutable and documented as thread-safe.
private final class RegexPattern: @unchecked Sendable {
    let source: String
    private let expression: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        expression = try NSRegularExpression(pattern: Self.icuPattern(fromECMA: source))
    }

    /// Unanchored search, as JSON Schema specifies: `"b"` is found in `"abc"`.
    func isFound(in string: String) -> Bool {
        expression.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }

    /// Brings ICU closer to the ECMA-262 dialect JSON Schema uses: outside a character
    /// class `$` means the very end of the input (ICU's `$` also matches before a final
    /// line break, so `"…Z\n"` would pass `^…Z$`), and `\d`/`\w` are ASCII-only.
    static func icuPattern(fromECMA source: String) -> String {
        var result = ""
        var inClass = false
        var scalars = source.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "\\":
                guard let escaped = scalars.next() else {
                    result += "\\"
                    continue
                }
                switch (escaped, inClass) {
                case ("d", false): result += "[0-9]"
                case ("d", true): result += "0-9"
                case ("D", false): result += "[^0-9]"
                case ("w", false): result += "[A-Za-z0-9_]"
                case ("w", true): result += "A-Za-z0-9_"
                case ("W", false): result += "[^A-Za-z0-9_]"
                default:
                    result += "\\"
                    result.unicodeScalars.append(escaped)
                }
            case "[" where !inClass:
                inClass = true
                result += "["
            case "]" where inClass:
                inClass = false
                result += "]"
            case "$" where !inClass:
                result += "\\z"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

private struct SchemaCompiler {
    let rootDocument: JSONValue
    private(set) var compiled: [String: SchemaNode] = [:]
    private var pending: [(reference: String, pointer: String)] = []
    private var requested: Set<String> = []

    init(rootDocument: JSONValue) {
        self.rootDocument = rootDocument
    }

    /// Draft 2020-12 keywords that constrain instances but are not implemented here.
    private static let unsupportedKeywords: Set<String> = [
        "allOf", "not", "if", "then", "else", "dependentSchemas", "dependentRequired",
        "prefixItems", "contains", "minContains", "maxContains", "patternProperties",
        "propertyNames", "unevaluatedItems", "unevaluatedProperties", "maxLength",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
        "minProperties", "maxProperties", "$dynamicRef", "$recursiveRef",
        "additionalItems", "dependencies",
    ]

    typealias SchemaError = JSONSchemaValidator.SchemaError

    mutating func compile(_ schema: JSONValue, at pointer: String) throws(SchemaError) -> SchemaNode {
        let members: [String: JSONValue]
        switch schema {
        case .bool(let value): return .always(value)
        case .object(let object): members = object
        default: throw SchemaError(pointer: pointer, message: "a schema must be an object or a boolean")
        }
        var rules = SchemaRules()
        for keyword in members.keys.sorted() {
            guard let value = members[keyword] else { continue }
            let at = "\(pointer)/\(JSONSchemaValidator.escape(keyword))"
            if Self.unsupportedKeywords.contains(keyword) {
                throw SchemaError(pointer: at, message: "keyword \(keyword) is not supported by this validator")
            }
            switch keyword {
            case "$ref":
                guard case .string(let reference) = value else {
                    throw SchemaError(pointer: at, message: "$ref must be a string")
                }
                try request(reference, at: at)
                rules.reference = reference
            case "type":
                rules.types = try Self.types(value, at: at)
            case "const":
                rules.constant = value
            case "enum":
                guard case .array(let values) = value, !values.isEmpty else {
                    throw SchemaError(pointer: at, message: "enum must be a non-empty array")
                }
                rules.allowedValues = values
            case "minimum":
                rules.minimum = try Self.number(value, at: at)
            case "maximum":
                rules.maximum = try Self.number(value, at: at)
            case "minLength":
                rules.minLength = try Self.count(value, at: at)
            case "minItems":
                rules.minItems = try Self.count(value, at: at)
            case "maxItems":
                rules.maxItems = try Self.count(value, at: at)
            case "pattern":
                guard case .string(let source) = value else {
                    throw SchemaError(pointer: at, message: "pattern must be a string")
                }
                do {
                    rules.pattern = try RegexPattern(source)
                } catch {
                    throw SchemaError(pointer: at, message: "invalid regular expression \(source)")
                }
            case "items":
                if case .array = value {
                    throw SchemaError(
                        pointer: at,
                        message: "items must be a single schema in draft 2020-12 (an array form is prefixItems)")
                }
                rules.items = try compile(value, at: at)
            case "required":
                guard case .array(let names) = value else {
                    throw SchemaError(pointer: at, message: "required must be an array of strings")
                }
                rules.required = try names.map { name throws(SchemaError) in
                    guard case .string(let string) = name else {
                        throw SchemaError(pointer: at, message: "required must be an array of strings")
                    }
                    return string
                }
            case "properties":
                guard case .object(let schemas) = value else {
                    throw SchemaError(pointer: at, message: "properties must be an object")
                }
                for name in schemas.keys.sorted() {
                    guard let propertySchema = schemas[name] else { continue }
                    rules.properties[name] = try compile(
                        propertySchema, at: "\(at)/\(JSONSchemaValidator.escape(name))")
                }
            case "additionalProperties":
                rules.additionalProperties = try compile(value, at: at)
            case "oneOf":
                rules.oneOf = try alternatives(value, keyword: keyword, at: at)
            case "anyOf":
                rules.anyOf = try alternatives(value, keyword: keyword, at: at)
            default:
                continue  // $schema, $id, $defs, title, description, format, …: ignored.
            }
        }
        return .rules(rules)
    }

    /// Compiles the target of every `$ref` met so far, including refs inside those targets.
    mutating func compilePendingReferences() throws(SchemaError) {
        while let (reference, pointer) = pending.popLast() {
            let target = try resolve(reference, at: pointer)
            compiled[reference] = try compile(target, at: String(reference.dropFirst()))
        }
    }

    private mutating func request(_ reference: String, at pointer: String) throws(SchemaError) {
        guard reference.hasPrefix("#") else {
            throw SchemaError(
                pointer: pointer, message: "only local references (#/...) are supported, got \(reference)")
        }
        if requested.insert(reference).inserted {
            pending.append((reference, pointer))
        }
    }

    /// Resolves `#` or `#/a/b` (RFC 6901, in a URI fragment) inside the schema document.
    private func resolve(_ reference: String, at pointer: String) throws(SchemaError) -> JSONValue {
        let fragment = String(reference.dropFirst())
        guard let decoded = fragment.removingPercentEncoding else {
            throw SchemaError(pointer: pointer, message: "malformed $ref \(reference)")
        }
        if decoded.isEmpty { return rootDocument }
        guard decoded.hasPrefix("/") else {
            throw SchemaError(
                pointer: pointer, message: "$ref \(reference) is an anchor; only JSON pointers are supported")
        }
        var current = rootDocument
        for rawToken in decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = rawToken.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let members):
                guard let next = members[token] else {
                    throw SchemaError(
                        pointer: pointer, message: "$ref \(reference) does not resolve: no member \(token)")
                }
                current = next
            case .array(let elements):
                guard let index = Int(token), elements.indices.contains(index) else {
                    throw SchemaError(
                        pointer: pointer, message: "$ref \(reference) does not resolve: no element \(token)")
                }
                current = elements[index]
            default:
                throw SchemaError(
                    pointer: pointer, message: "$ref \(reference) does not resolve: \(token) is inside a scalar")
            }
        }
        return current
    }

    private mutating func alternatives(
        _ value: JSONValue, keyword: String, at pointer: String
    ) throws(SchemaError) -> [SchemaNode] {
        guard case .array(let schemas) = value, !schemas.isEmpty else {
            throw SchemaError(pointer: pointer, message: "\(keyword) must be a non-empty array of schemas")
        }
        var nodes: [SchemaNode] = []
        for (index, schema) in schemas.enumerated() {
            nodes.append(try compile(schema, at: "\(pointer)/\(index)"))
        }
        return nodes
    }

    private static func types(_ value: JSONValue, at pointer: String) throws(SchemaError) -> [JSONType] {
        let names: [JSONValue]
        switch value {
        case .string: names = [value]
        case .array(let array) where !array.isEmpty: names = array
        default: throw SchemaError(pointer: pointer, message: "type must be a type name or a non-empty array of them")
        }
        return try names.map { name throws(SchemaError) in
            guard case .string(let string) = name, let type = JSONType(rawValue: string) else {
                let known = JSONType.allCases.map(\.rawValue).joined(separator: ", ")
                throw SchemaError(pointer: pointer, message: "unknown type \(name.rendered) (known: \(known))")
            }
            return type
        }
    }

    private static func number(_ value: JSONValue, at pointer: String) throws(SchemaError) -> JSONNumber {
        guard case .number(let number) = value else {
            throw SchemaError(pointer: pointer, message: "must be a number")
        }
        return number
    }

    private static func count(_ value: JSONValue, at pointer: String) throws(SchemaError) -> Int {
        guard case .number(let number) = value, number.isIntegral, number.compare(to: .integer(0)) >= 0,
            number.compare(to: .integer(Int64(Int32.max))) <= 0
        else {
            throw SchemaError(pointer: pointer, message: "must be a non-negative integer")
        }
        switch number {
        case .integer(let integer): return Int(integer)
        case .double(let double): return Int(double)
        }
    }
}
