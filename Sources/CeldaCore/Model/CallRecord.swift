/// Where a record came from: the input (by index in the run's input list), the byte offset of
/// its row in the decoded stream, and its line number. Used for evidence and rejects.
@frozen
public struct SourceRef: Hashable, Comparable, Sendable, BitwiseCopyable {
    /// Input index (high 16 bits) and byte offset (low 48 bits).
    public var packed: UInt64
    /// 1-based line number of the row's first line.
    public var line: UInt32

    @inlinable public init(input: Int, offset: Int, line: Int) {
        packed = UInt64(truncatingIfNeeded: input) << 48 | UInt64(truncatingIfNeeded: offset) & (1 << 48 - 1)
        self.line = UInt32(truncatingIfNeeded: line)
    }

    @inlinable public var input: Int { Int(packed >> 48) }
    @inlinable public var offset: Int { Int(packed & (1 << 48 - 1)) }

    @inlinable public static func < (a: SourceRef, b: SourceRef) -> Bool { a.packed < b.packed }
}

/// One call: the single currency between stages (decode → locate → order → detect).
///
/// Integers only, fixed width, no references: a record is copied, never allocated.
@frozen
public struct CallRecord: Sendable, Equatable {
    // Stored properties are laid out widest first (88-byte stride, not 104): the reorder buffer
    // holds the allowed disorder's worth of records.
    /// Start of the call (event time, µs UTC).
    public var start: EventTime
    /// Calling line (A-number).
    public var caller: Party
    /// Called line (B-number).
    public var callee: Party
    /// Handset IMEI as an integer, 0 when unknown.
    public var imei: UInt64
    /// Subscriber IMSI as an integer, 0 when unknown.
    public var imsi: UInt64
    /// Originating cell, ``CellID/none`` when unknown.
    public var cell: CellID
    /// A hash of the raw row (0 when unknown): an exact repeat of a row (overlapping exports) has
    /// the same content and the same hash, and is counted once.
    public var rowHash: UInt64
    /// Evidence reference.
    public var source: SourceRef
    /// Talk time in milliseconds (answer to hang-up); 0 when not answered.
    public var durationMs: UInt32
    /// Index of the located site in the run's ``SiteTable``, ``unlocated`` when not placed.
    public var site: UInt32
    /// Flags, see ``Flags``.
    public var flags: Flags

    /// Site value of a record whose cell could not be placed.
    public static let unlocated: UInt32 = .max

    /// Record flags.
    @frozen
    public struct Flags: OptionSet, Sendable, Hashable {
        public var rawValue: UInt8
        @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The call was answered.
        public static let answered = Flags(rawValue: 1)
        /// The record arrived later than the allowed disorder.
        public static let late = Flags(rawValue: 2)
        /// The record's tower reaches a prison (set with the site, by ``SiteTable/locate(_:)``).
        public static let prisonLinked = Flags(rawValue: 4)
    }

    @inlinable
    public init(
        start: EventTime, durationMs: UInt32, flags: Flags, caller: Party, callee: Party, imei: UInt64 = 0,
        imsi: UInt64 = 0, cell: CellID = .none, site: UInt32 = CallRecord.unlocated, source: SourceRef,
        rowHash: UInt64 = 0
    ) {
        self.start = start
        self.durationMs = durationMs
        self.flags = flags
        self.caller = caller
        self.callee = callee
        self.imei = imei
        self.imsi = imsi
        self.cell = cell
        self.site = site
        self.source = source
        self.rowHash = rowHash
    }

    /// Equal in everything the row said (all but where it was read).
    @inlinable
    public static func sameContent(_ a: CallRecord, _ b: CallRecord) -> Bool {
        a.start == b.start && a.caller == b.caller && a.callee == b.callee && a.durationMs == b.durationMs
            && a.cell == b.cell && a.imei == b.imei && a.imsi == b.imsi && a.flags == b.flags
    }

    @inlinable public var answered: Bool { flags.contains(.answered) }
    @inlinable public var durationSeconds: Double { Double(durationMs) / 1000 }
    @inlinable public var isLocated: Bool { site != CallRecord.unlocated }
    /// The tower reaches a prison (known once the record is located).
    @inlinable public var isPrisonLinked: Bool { flags.contains(.prisonLinked) }

    /// A total order on record content (start first) so that equal start times sort the same
    /// whatever order the rows arrived in.
    @inlinable
    public static func precedes(_ a: CallRecord, _ b: CallRecord) -> Bool {
        if a.start != b.start { return a.start < b.start }
        if a.caller != b.caller { return a.caller < b.caller }
        if a.callee != b.callee { return a.callee < b.callee }
        if a.durationMs != b.durationMs { return a.durationMs < b.durationMs }
        if a.cell != b.cell { return a.cell < b.cell }
        if a.imei != b.imei { return a.imei < b.imei }
        if a.imsi != b.imsi { return a.imsi < b.imsi }
        if a.flags.rawValue != b.flags.rawValue { return a.flags.rawValue < b.flags.rawValue }
        return a.source < b.source
    }
}
