import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Counts of one capture (spec/inputs.md §5: every packet accounted for).
public struct CaptureStats: Sendable, Equatable {
    public var packets = 0
    /// Packets that carried SIP (or a part of a SIP message).
    public var sipPackets = 0
    public var sipMessages = 0
    /// SIP messages that could not be used (no Call-ID, bad CSeq, bad start line).
    public var sipRejected = 0
    /// Calls assembled (one per dialog).
    public var calls = 0
    /// In-dialog messages whose INVITE the capture does not hold (it began mid-call).
    public var orphanMessages = 0
    /// Problems by code (`packet-truncated`, `tcp-gap`, `sip-content-length`, `dialog-limit`, …).
    public var faults: [String: Int] = [:]
    public init() {}

    public mutating func add(_ o: CaptureStats) {
        packets += o.packets
        sipPackets += o.sipPackets
        sipMessages += o.sipMessages
        sipRejected += o.sipRejected
        calls += o.calls
        orphanMessages += o.orphanMessages
        faults.merge(o.faults, uniquingKeysWith: +)
    }
}

/// Reads a pcap or pcapng capture through libpcap and assembles its SIP calls.
///
/// Two threads share the work: a decoding thread runs libpcap, the link, IP and transport layers
/// (with TCP framing) and the byte scan of each SIP header block, and hands the messages and
/// faults over in packet order, in batches; the thread that calls ``nextCall()`` assembles the
/// calls from them. Nothing the assembler decides flows back to the decoder (framing needs only
/// a message's Content-Length, which the scan reads as the parser does), so the calls, the faults
/// and their order are those of one thread.
public final class CaptureReader {
    public let path: String
    public let limits: CaptureLimits
    /// Receives each fault with its packet number.
    public var onFault: ((_ code: String, _ packet: Int, _ message: String) -> Void)?
    public private(set) var stats = CaptureStats()
    let file: PcapFile
    let producer: CaptureProducer
    /// The decoding thread, started at the first read; `nil` when decoding runs in the caller's
    /// thread.
    var thread: CaptureThread?
    let pipelined: Bool
    var assembler: CallAssembler!
    // One thread at a time (the reader's): no run-time exclusivity checks on every call.
    /// Calls assembled and not yet returned: `ready` in the order they came, and `draining` the
    /// batch being returned, in the same order, of which the first `drained` are returned (each
    /// swapped out for an empty call, so a call is moved out, never copied).
    @exclusivity(unchecked) var ready: [AssembledCall] = []
    @exclusivity(unchecked) var draining: [AssembledCall] = []
    @exclusivity(unchecked) var drained = 0
    var done = false
    var pendingError: InputError?

    /// Opens a capture by path, or reads it from `stream` (a pipe or a gzip stream).
    /// `pipelined: false` decodes in the caller's thread (the same calls and faults, slower).
    public init(
        path: String, stream: (any ByteSource)? = nil, limits: CaptureLimits = CaptureLimits(), pipelined: Bool = true
    )
        throws(InputError)
    {
        self.path = path
        self.limits = limits
        self.pipelined = pipelined
        file = try PcapFile(path: path, stream: stream)
        producer = CaptureProducer(file: file, limits: limits)
        assembler = CallAssembler(
            limits: limits,
            emit: { [unowned self] call in
                self.ready.append(consume call)
                self.stats.calls += 1
            },
            fault: { [unowned self] code, packet, message in self.fault(code, packet: packet, message) })
    }

    /// Opens a capture file, pipe (`-` for standard input) or gzip-compressed capture.
    public static func open(
        _ path: String, limits: CaptureLimits = CaptureLimits(), pipelined: Bool = true
    ) throws(InputError) -> CaptureReader {
        let (opened, kind, _) = try InputOpener.open(path)
        guard kind == .pcap || kind == .pcapng else {
            throw InputError(.unsupported, path: path, "is not a pcap or pcapng capture")
        }
        switch opened {
        case .mapped: return try CaptureReader(path: path, limits: limits, pipelined: pipelined)
        case .stream(let source, _):
            return try CaptureReader(path: path, stream: source, limits: limits, pipelined: pipelined)
        }
    }

    deinit { thread?.stop() }

    /// The link-layer type of the capture.
    public var linkType: Int32 { file.linkType }
    /// libpcap's version string.
    public var libraryVersion: String { file.lib.version }

    /// The next call in the order the INVITEs arrived, `nil` at the end.
    ///
    /// - Throws: ``InputError`` when the capture is cut short or corrupt, after every call
    ///   assembled before the cut has been returned.
    public func nextCall() throws(InputError) -> AssembledCall? {
        while true {
            if drained < draining.count {
                // Swapped out, not copied: a copy would retain each of the call's strings, and
                // the array would then release them again.
                var call = AssembledCall.empty
                swap(&call, &draining[drained])
                drained += 1
                return call
            }
            if !ready.isEmpty {
                draining.removeAll(keepingCapacity: true)
                drained = 0
                swap(&ready, &draining)
                continue
            }
            if done {
                if let e = pendingError {
                    pendingError = nil
                    throw e
                }
                return nil
            }
            let batch: CaptureBatch
            if pipelined {
                if thread == nil { thread = CaptureThread(producer) }
                batch = thread!.next()
            } else {
                batch = producer.step()
            }
            replay(batch)
            if batch.end {
                assembler.finish()
                stats.orphanMessages = assembler.orphans
                pendingError = batch.error
                done = true
            }
            if let thread { thread.recycle(batch) } else { producer.recycle(batch) }
        }
    }

    /// Handles a batch's messages and faults in the order they were found.
    func replay(_ batch: CaptureBatch) {
        stats.packets += batch.packets
        stats.sipPackets += batch.sipPackets
        let arena = batch.bytes.contents
        // The assembler reads each scan where it lies (a scan is a few hundred bytes: a copy per
        // message cost 64M instructions a million messages).
        let scanOffset = MemoryLayout<CaptureBatch.Event>.offset(of: \.scan)!
        batch.events.withUnsafeBufferPointer { events in
            for i in events.indices {
                let e = UnsafePointer(events.baseAddress! + i)
                if e.pointee.kind == .fault {
                    let f = batch.faults[e.pointee.start]
                    fault(f.code, packet: e.pointee.packet, f.message)
                    continue
                }
                stats.sipMessages += 1
                let bytes = UnsafeRawBufferPointer(
                    rebasing: arena[e.pointee.start..<(e.pointee.start + e.pointee.count)])
                // Most messages of a dialog need only their start line, CSeq and Call-ID.
                if e.pointee.kind == .scanned,
                    assembler.handle(
                        (UnsafeRawPointer(e) + scanOffset).assumingMemoryBound(to: SIPScan.self), bytes: bytes,
                        packet: e.pointee.packet, time: e.pointee.time)
                {
                    continue
                }
                switch SIPParser.parse(bytes) {
                case .success(let m):
                    if m.badContentLength {
                        fault(
                            "sip-content-length", packet: e.pointee.packet,
                            "Content-Length is not a number; message kept")
                    }
                    assembler.handle(m, packet: e.pointee.packet, time: e.pointee.time)
                case .failure(let f):
                    stats.sipRejected += 1
                    fault(f.rawValue, packet: e.pointee.packet, "SIP message unusable: \(f.rawValue)")
                }
            }
        }
    }

    func fault(_ code: String, packet: Int, _ message: String) {
        stats.faults[code, default: 0] += 1
        onFault?(code, packet, message)
    }
}

/// What the decoding side found, in packet order: SIP messages (their header block, copied) and
/// faults.
final class CaptureBatch: @unchecked Sendable {
    enum Kind: UInt8 {
        /// Scanned: the assembler may handle it from the scan.
        case scanned
        /// To be parsed in full (the scan did not take it on).
        case full
        /// A fault; `start` indexes ``faults``.
        case fault
    }

    struct Event {
        var kind: Kind
        var packet: Int
        var time: Int64
        var start: Int
        var count: Int
        var scan: SIPScan
    }

    // A batch belongs to one thread at a time (filled, then handed over through the queue's
    // lock): its fields skip the run-time exclusivity checks.
    @exclusivity(unchecked) var events: [Event] = []
    @exclusivity(unchecked) var bytes = ByteArena()
    @exclusivity(unchecked) var faults: [(code: String, message: String)] = []
    @exclusivity(unchecked) var packets = 0
    @exclusivity(unchecked) var sipPackets = 0
    /// The last batch of the capture.
    @exclusivity(unchecked) var end = false
    /// Why reading stopped early, on the last batch.
    @exclusivity(unchecked) var error: InputError?

    static let maxEvents = 2048
    static let maxBytes = 1 << 20

    var isFull: Bool { events.count >= Self.maxEvents || bytes.count >= Self.maxBytes }

    func reset() {
        events.removeAll(keepingCapacity: true)
        bytes.count = 0
        faults.removeAll()
        packets = 0
        sipPackets = 0
        end = false
        error = nil
    }
}

/// Bytes appended one block after another, in memory that grows and is kept (a batch's header
/// blocks: `Array.append(contentsOf:)` cost more than the copy itself).
struct ByteArena: ~Copyable {
    private(set) var base = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private(set) var capacity = 1 << 16
    var count = 0

    mutating func append(_ p: UnsafeRawBufferPointer) {
        if count + p.count > capacity {
            var c = capacity
            while count + p.count > c { c *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
            grown.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = grown
            capacity = c
        }
        if let from = p.baseAddress { (base + count).copyMemory(from: from, byteCount: p.count) }
        count += p.count
    }

    /// What has been appended (valid until the next append).
    var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit { base.deallocate() }
}

/// The decoding side: libpcap, the packet decoder and the scan of each message, filling batches.
final class CaptureProducer: PacketSink, @unchecked Sendable {
    let file: PcapFile
    @exclusivity(unchecked) var decoder: PacketDecoder!
    // One thread at a time (the decoding thread, or the reader's without one).
    @exclusivity(unchecked) var batch = CaptureBatch()
    /// Emptied batches, for reuse.
    @exclusivity(unchecked) var spare: [CaptureBatch] = []

    init(file: PcapFile, limits: CaptureLimits) {
        self.file = file
        decoder = PacketDecoder(limits: limits, sink: self)
    }

    /// Decodes packets until a batch is full or the capture ends, and returns that batch.
    func step() -> CaptureBatch {
        while !batch.isFull {
            let packet: RawPacket?
            do { packet = try file.next() } catch {
                batch.error = error
                packet = nil
            }
            guard let packet else {
                decoder.finish()
                file.close()
                batch.end = true
                break
            }
            batch.packets += 1
            if decoder.decode(link: file.linkType, packet.data, packet: packet.number, time: packet.time) {
                batch.sipPackets += 1
            }
        }
        let out = batch
        batch = spare.popLast() ?? CaptureBatch()
        return out
    }

    func recycle(_ b: CaptureBatch) {
        guard !b.end else { return }
        b.reset()
        spare.append(b)
    }

    // MARK: PacketSink

    func sipMessage(_ bytes: UnsafeRawBufferPointer, packet: Int, time: Int64) -> BodyLength {
        let batch = self.batch  // one reference for the whole message
        let start = batch.bytes.count
        // The scan goes straight into the event (a scan is a few hundred bytes: no copies).
        batch.events.append(.init(kind: .scanned, packet: packet, time: time, start: start, count: 0, scan: SIPScan()))
        let k = batch.events.count - 1
        let taken = batch.events.withUnsafeMutableBufferPointer { e -> Bool in
            SIPScan.scan(bytes, into: &e[k].scan) == nil && !e[k].scan.needsFullParse && !e[k].scan.badContentLength
        }
        if taken {
            // The scan reads Content-Length as the parser does, and a header block the scan takes
            // on parses: the framing is the parser's.
            let length = batch.events[k].scan.headerLength
            let header = UnsafeRawBufferPointer(rebasing: bytes[0..<min(length, bytes.count)])
            batch.bytes.append(header)
            batch.events[k].count = header.count
            return batch.events[k].scan.contentLength.map { BodyLength.bytes($0) } ?? .missing
        }
        batch.bytes.append(bytes)
        batch.events[k].kind = .full
        batch.events[k].count = bytes.count
        // Rare (folded headers, a bad Content-Length, an unusable message): parsed here for the
        // framing, and again on the assembler's side, which reports it.
        switch SIPParser.parse(bytes) {
        case .success(let m):
            return m.badContentLength ? .invalid : m.contentLength.map { BodyLength.bytes($0) } ?? .missing
        case .failure: return .unparsed
        }
    }

    func fault(_ code: String, packet: Int, _ message: String) {
        batch.events.append(
            .init(kind: .fault, packet: packet, time: 0, start: batch.faults.count, count: 0, scan: SIPScan()))
        batch.faults.append((code, message))
    }
}

/// The decoding thread: runs a ``CaptureProducer`` ahead of the reader, a few batches deep (so
/// memory stays bounded).
final class CaptureThread: @unchecked Sendable {
    let producer: CaptureProducer
    var queue: [CaptureBatch] = []
    var returned: [CaptureBatch] = []
    var stopping = false
    var joined = false
    var thread = pthread_t()
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    static let depth = 4

    init(_ producer: CaptureProducer) {
        self.producer = producer
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        thread = Threads.start("the capture decoding thread", name: "celda-capture") { self.main() }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(changed)
        mutex.deallocate()
        changed.deallocate()
    }

    func main() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.count >= Self.depth && !stopping { pthread_cond_wait(changed, mutex) }
            producer.spare += returned
            returned.removeAll()
            let stop = stopping
            pthread_mutex_unlock(mutex)
            if stop { return }
            let b = producer.step()
            pthread_mutex_lock(mutex)
            queue.append(b)
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
            if b.end { return }
        }
    }

    /// The next batch, waiting for it.
    func next() -> CaptureBatch {
        pthread_mutex_lock(mutex)
        while queue.isEmpty { pthread_cond_wait(changed, mutex) }
        let b = queue.removeFirst()
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        if b.end { join() }
        return b
    }

    /// Hands an emptied batch back for reuse.
    func recycle(_ b: CaptureBatch) {
        guard !b.end else { return }
        b.reset()
        pthread_mutex_lock(mutex)
        returned.append(b)
        pthread_mutex_unlock(mutex)
    }

    private func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    /// Stops the thread early (the reader is dropped before the end of the capture).
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        join()
    }
}
