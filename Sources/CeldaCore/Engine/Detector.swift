/// What every detector sees besides the records: the placed towers and prisons.
public struct DetectorContext: Sendable {
    public let sites: SiteTable
    public init(sites: SiteTable) { self.sites = sites }
}

/// A keyed, stateful, windowed operator: one detector family (`burst`, `victim`, …).
///
/// The engine knows no single detector. For every record it asks each family for the record's
/// routing key, sends the record to the shard that owns `StableHash.mix(key) % shardCount`, and
/// calls ``advance(to:context:emit:)`` as event time moves so the detector can expire windows and
/// evict idle keys. A shard sees every record of its keys in event-time order, so N shards give
/// exactly the alerts of one.
public protocol Detector: Sendable {
    /// The detector's name in alerts (`detector` field).
    var name: String { get }

    /// The routing key of a record (a stable integer identity of the entity this detector keys
    /// by), or `nil` when the detector has nothing to do with the record.
    func routingKey(of record: CallRecord, context: DetectorContext) -> UInt64?

    /// Feeds one record (in event-time order, or flagged late).
    mutating func observe(_ record: CallRecord, context: DetectorContext, emit: inout [Alert])

    /// Event time has reached `watermark`: no record earlier than it will arrive (except late
    /// ones). Expire windows, evict idle keys.
    mutating func advance(to watermark: EventTime, context: DetectorContext, emit: inout [Alert])

    /// End of input.
    mutating func finish(context: DetectorContext, emit: inout [Alert])

    /// Number of keys currently held (for memory accounting and tests).
    var keyCount: Int { get }

    /// A fresh, empty detector with the same configuration (one per shard).
    func makeShard() -> Self
}

extension Detector {
    public mutating func finish(context: DetectorContext, emit: inout [Alert]) {
        advance(to: .max, context: context, emit: &emit)
    }
}
