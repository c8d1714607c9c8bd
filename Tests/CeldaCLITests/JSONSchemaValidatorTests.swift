import Foundation
import Testing

/// The shared spec folder sits beside the package checkout:
/// `<root>/Tests/CeldaCLITests/<this file>` → `<root>/../shared/spec`.
private let specFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Tests/CeldaCLITests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .deletingLastPathComponent()  // the folder holding the checkout and shared/
    .appendingPathComponent("shared/spec", isDirectory: true)

/// The example alert of `alerts.md`, written as the one line it is in an alert log.
private let exampleLine =
    #"{"schema":"celda.alert.v1","id":"b1f0c2a9d3e4f5a6","detector":"burst","severity":"high","score":0.93,"entity":{"kind":"line","id":"+525512345678"},"window":{"start":"2026-01-20T15:00:00Z","end":"2026-01-20T16:00:00Z"},"detected_at":"2026-01-20T15:41:12Z","prison":{"id":"cefereso-01-altiplano","name":"CEFERESO No. 1 Altiplano","distance_m":412},"towers":["334-020-1234-56789"],"metrics":{"calls":47,"distinct_callees":45,"short_call_share":0.89,"answer_ratio":0.31},"reasons":["47 calls to 45 different numbers within 60 minutes","89% of calls shorter than 60 s","calls originate 412 m from CEFERESO 1 Altiplano"],"evidence":{"call_ids":["c000123","c000129"],"total":47},"related":[]}"#

/// One change to the example alert that the schema must reject, and where.
struct AlertMutation: Sendable, CustomTestStringConvertible {
    let name: String
    /// JSON pointer every reported violation must start with.
    let pointer: String
    let apply: @Sendable (inout [String: Any]) -> Void

    var testDescription: String { name }

    static func set(_ name: String, _ pointer: String, _ key: String, to value: some Sendable) -> Self {
        AlertMutation(name: name, pointer: pointer) { $0[key] = value }
    }

    static func set(_ name: String, _ pointer: String, _ key: String, _ inner: String, to value: some Sendable) -> Self
    {
        AlertMutation(name: name, pointer: pointer) { alert in
            var object = alert[key] as? [String: Any] ?? [:]
            object[inner] = value
            alert[key] = object
        }
    }

    static let all: [AlertMutation] = [
        AlertMutation(name: "missing reasons", pointer: "/reasons") { $0["reasons"] = nil },
        .set("severity urgent", "/severity", "severity", to: "urgent"),
        .set("score 1.5", "/score", "score", to: 1.5),
        .set("17 towers", "/towers", "towers", to: (1...17).map { "334-020-1234-\($0)" }),
        .set("detected_at with a space", "/detected_at", "detected_at", to: "2026-01-20 15:04:05"),
        .set("entity.kind person", "/entity/kind", "entity", "kind", to: "person"),
        .set("prison as a string", "/prison", "prison", to: "cefereso-01-altiplano"),
        .set("metrics with a string value", "/metrics/calls", "metrics", "calls", to: "47"),
        .set("evidence.total 1.5", "/evidence/total", "evidence", "total", to: 1.5),
        .set("evidence.total true", "/evidence/total", "evidence", "total", to: true),
        .set("schema v2", "/schema", "schema", to: "celda.alert.v2"),
    ]
}

@Suite struct JSONSchemaValidatorTests {
    let validator: JSONSchemaValidator

    init() throws {
        let schema = try Data(contentsOf: specFolder.appendingPathComponent("alert.v1.schema.json"))
        validator = try JSONSchemaValidator(schemaData: schema)
    }

    private func exampleAlert() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(exampleLine.utf8))
        return try #require(object as? [String: Any])
    }

    private func line(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return try #require(String(data: data, encoding: .utf8))
    }

    // MARK: The alert contract

    @Test func specExampleValidates() throws {
        #expect(validator.validate(jsonLine: exampleLine) == [])
        #expect(validator.validate(try exampleAlert()) == [])
    }

    @Test func specExampleInAlertsMarkdownValidates() throws {
        let markdown = try String(contentsOf: specFolder.appendingPathComponent("alerts.md"), encoding: .utf8)
        let block = try #require(markdown.range(of: "```json\n"))
        let end = try #require(markdown.range(of: "\n```", range: block.upperBound..<markdown.endIndex))
        let joined = markdown[block.upperBound..<end.lowerBound].split(separator: "\n").joined()
        #expect(validator.validate(jsonLine: joined) == [])
    }

    @Test(arguments: AlertMutation.all)
    func mutationIsRejected(_ mutation: AlertMutation) throws {
        var alert = try exampleAlert()
        mutation.apply(&alert)
        let prefix = mutation.pointer + ": "

        // As built in Swift (native Bool/Double mixed with JSONSerialization's NSNumbers)…
        let direct = validator.validate(alert)
        #expect(!direct.isEmpty)
        #expect(direct.allSatisfy { $0.hasPrefix(prefix) && $0.count > prefix.count }, "\(direct)")

        // …and as read back from one JSON Lines line.
        let text = try line(alert)
        let parsed = validator.validate(jsonLine: text)
        #expect(!parsed.isEmpty, "\(text)")
        #expect(parsed.allSatisfy { $0.hasPrefix(prefix) && $0.count > prefix.count }, "\(parsed)")
    }

    @Test func booleanTotalInTextIsNotAnInteger() throws {
        let text = exampleLine.replacingOccurrences(of: #""total":47"#, with: #""total":true"#)
        #expect(text != exampleLine)
        let violations = validator.validate(jsonLine: text)
        #expect(violations == [#"/evidence/total: expected type integer, got boolean true"#])
    }

    @Test func nullPrisonIsAllowed() throws {
        var alert = try exampleAlert()
        alert["prison"] = NSNull()
        #expect(validator.validate(alert) == [])
        #expect(validator.validate(jsonLine: try line(alert)) == [])
    }

    @Test func badRelatedEntityIsLocated() throws {
        var alert = try exampleAlert()
        alert["related"] = [["kind": "line", "id": "+5255"], ["kind": "robot", "id": ""]]
        #expect(
            validator.validate(alert) == [
                #"/related/1/id: string of length 0 is shorter than minLength 1"#,
                #"/related/1/kind: "robot" is not one of ["line", "victim", "device", "tower", "prison-pair"]"#,
            ])
    }

    @Test func timeWithTrailingNewlineIsRejected() throws {
        var alert = try exampleAlert()
        alert["detected_at"] = "2026-01-20T15:41:12Z\n"
        #expect(validator.validate(alert).count == 1)
    }

    @Test func invalidJSONLineIsReported() {
        let violations = validator.validate(jsonLine: #"{"schema":"celda.alert.v1","#)
        #expect(violations.count == 1)
        #expect(violations.first?.hasPrefix(": not valid JSON") == true)
    }

    // MARK: Keyword semantics on small schemas

    private static func schema(_ text: String) throws -> JSONSchemaValidator {
        try JSONSchemaValidator(schemaData: Data(text.utf8))
    }

    @Test func booleansAndNumbersNeverMix() throws {
        let integer = try Self.schema(#"{"type": "integer"}"#)
        for accepted in ["0", "1", "-3", "1.0", "1e2", "9007199254740993"] {
            #expect(integer.validate(jsonLine: accepted) == [], "\(accepted)")
        }
        for rejected in ["true", "false", "1.5", "\"1\"", "null"] {
            #expect(integer.validate(jsonLine: rejected).count == 1, "\(rejected)")
        }
        let number = try Self.schema(#"{"type": "number"}"#)
        #expect(number.validate(jsonLine: "0.5") == [])
        #expect(number.validate(jsonLine: "true").count == 1)
        #expect(number.validate(true).count == 1)
        let boolean = try Self.schema(#"{"type": "boolean"}"#)
        #expect(boolean.validate(jsonLine: "false") == [])
        #expect(boolean.validate(jsonLine: "0").count == 1)
        #expect(boolean.validate(jsonLine: "1").count == 1)
        #expect(boolean.validate(1).count == 1)
    }

    @Test func constAndEnumUseJSONEquality() throws {
        let one = try Self.schema(#"{"const": 1}"#)
        #expect(one.validate(jsonLine: "1.0") == [])
        #expect(one.validate(jsonLine: "true").count == 1)
        let falseOnly = try Self.schema(#"{"enum": [false, {"a": [1, "x"]}]}"#)
        #expect(falseOnly.validate(jsonLine: "false") == [])
        #expect(falseOnly.validate(jsonLine: "0").count == 1)
        #expect(falseOnly.validate(jsonLine: #"{"a": [1.0, "x"]}"#) == [])
        #expect(falseOnly.validate(jsonLine: #"{"a": [1, "x"], "b": 0}"#).count == 1)
    }

    @Test func boundsAreExactForLargeIntegers() throws {
        let bounded = try Self.schema(#"{"minimum": 0, "maximum": 9007199254740992}"#)
        #expect(bounded.validate(jsonLine: "9007199254740992") == [])
        #expect(bounded.validate(jsonLine: "9007199254740993").count == 1)
        #expect(bounded.validate(jsonLine: "-0.0001").count == 1)
        #expect(bounded.validate(jsonLine: "\"not a number\"") == [])
    }

    @Test func patternSearchesUnanchoredInECMAStyle() throws {
        let contains = try Self.schema(#"{"pattern": "b+"}"#)
        #expect(contains.validate(jsonLine: #""abbc""#) == [])
        #expect(contains.validate(jsonLine: #""xyz""#).count == 1)
        let anchored = try Self.schema(#"{"pattern": "^\\d{2}$"}"#)
        #expect(anchored.validate(jsonLine: #""42""#) == [])
        #expect(anchored.validate(jsonLine: #""42\n""#).count == 1)
        #expect(anchored.validate(jsonLine: #""\u0664\u0662""#).count == 1)  // Arabic-Indic digits
    }

    @Test func minLengthCountsCodePoints() throws {
        let two = try Self.schema(#"{"minLength": 2}"#)
        #expect(two.validate("e\u{301}") == [])  // one Character, two scalars
        #expect(two.validate("😀").count == 1)  // one scalar, two UTF-16 units
    }

    @Test func objectKeywords() throws {
        let closed = try Self.schema(
            #"""
            {"type": "object", "required": ["a/b"], "properties": {"a/b": {"type": "string"}},
             "additionalProperties": false}
            """#)
        #expect(closed.validate(["a/b": "x"]) == [])
        #expect(
            closed.validate(["a/b": "x", "c~": 1]) == [
                #"/c~0: property "c~" is not allowed (additionalProperties is false)"#
            ])
        #expect(closed.validate([String: Any]()) == [#"/a~1b: missing required property "a/b""#])
    }

    @Test func combinatorsAndReferences() throws {
        let choice = try Self.schema(
            #"""
            {"$defs": {"small": {"maximum": 10}, "int": {"type": "integer"}},
             "oneOf": [{"$ref": "#/$defs/small"}, {"$ref": "#/$defs/int"}]}
            """#)
        #expect(choice.validate(jsonLine: "2.5") == [])
        #expect(choice.validate(jsonLine: "20") == [])
        #expect(choice.validate(jsonLine: "5").count == 1)  // both match
        #expect(choice.validate(jsonLine: "20.5").count == 1)  // none matches
        let any = try Self.schema(#"{"anyOf": [{"type": "string"}, {"minimum": 3}]}"#)
        #expect(any.validate(jsonLine: "\"x\"") == [])
        #expect(any.validate(jsonLine: "5") == [])
        #expect(any.validate(jsonLine: "1").count == 1)
        let list = try Self.schema(
            #"""
            {"$defs": {"node": {"type": "object", "required": ["v"],
                                "properties": {"next": {"$ref": "#/$defs/node"}}}},
             "$ref": "#/$defs/node"}
            """#)
        #expect(list.validate(jsonLine: #"{"v": 1, "next": {"v": 2, "next": {"v": 3}}}"#) == [])
        #expect(
            list.validate(jsonLine: #"{"v": 1, "next": {"next": {"v": 3}}}"#) == [
                #"/next/v: missing required property "v""#
            ])
        let arrays = try Self.schema(#"{"minItems": 1, "maxItems": 2, "items": {"type": "string"}}"#)
        #expect(arrays.validate(jsonLine: #"["a"]"#) == [])
        #expect(arrays.validate(jsonLine: "[]").count == 1)
        #expect(arrays.validate(jsonLine: #"["a", 1, "c"]"#).count == 2)
    }

    @Test func unsupportedSchemasAreRefused() {
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(#"{"maxLength": 3}"#) }
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(##"{"$ref": "#/$defs/missing"}"##) }
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(#"{"$ref": "other.json"}"#) }
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(#"{"type": "int"}"#) }
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(#"{"pattern": "("}"#) }
        #expect(throws: JSONSchemaValidator.SchemaError.self) { try Self.schema(#"{"items": [{}]}"#) }
    }
}
