/// Why an input could not be read (in whole or in part). Carries the path and the cause.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let notFound = Code(name: "not-found")
        public static let unreadable = Code(name: "unreadable")
        public static let truncated = Code(name: "truncated")
        public static let corrupt = Code(name: "corrupt")
        public static let unsupported = Code(name: "unsupported")
        public static let badHeader = Code(name: "bad-header")
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
