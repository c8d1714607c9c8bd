import CeldaCore

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
public final class CaptureReader: PacketSink {
    public let path: String
    public let limits: CaptureLimits
    /// Receives each fault with its packet number.
    public var onFault: ((_ code: String, _ packet: Int, _ message: String) -> Void)?
    public private(set) var stats = CaptureStats()
    let file: PcapFile
    var decoder: PacketDecoder!
    var assembler: CallAssembler!
    var ready: [AssembledCall] = []
    var readyHead = 0
    var done = false
    var pendingError: InputError?

    /// Opens a capture by path, or reads it from `stream` (a pipe or a gzip stream).
    public init(
        path: String, stream: (any ByteSource)? = nil, limits: CaptureLimits = CaptureLimits()
    )
        throws(InputError)
    {
        self.path = path
        self.limits = limits
        file = try PcapFile(path: path, stream: stream)
        decoder = PacketDecoder(limits: limits, sink: self)
        assembler = CallAssembler(
            limits: limits,
            emit: { [unowned self] call in
                self.ready.append(call)
                self.stats.calls += 1
            },
            fault: { [unowned self] code, packet, message in self.fault(code, packet: packet, message) })
    }

    /// Opens a capture file, pipe (`-` for standard input) or gzip-compressed capture.
    public static func open(_ path: String, limits: CaptureLimits = CaptureLimits()) throws(InputError) -> CaptureReader
    {
        let (opened, kind, _) = try InputOpener.open(path)
        guard kind == .pcap || kind == .pcapng else {
            throw InputError(.unsupported, path: path, "is not a pcap or pcapng capture")
        }
        switch opened {
        case .mapped: return try CaptureReader(path: path, limits: limits)
        case .stream(let source, _): return try CaptureReader(path: path, stream: source, limits: limits)
        }
    }

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
            if readyHead < ready.count {
                let c = ready[readyHead]
                readyHead += 1
                if readyHead == ready.count {
                    ready.removeAll(keepingCapacity: true)
                    readyHead = 0
                }
                return c
            }
            if done {
                if let e = pendingError {
                    pendingError = nil
                    throw e
                }
                return nil
            }
            let packet: RawPacket?
            do { packet = try file.next() } catch {
                pendingError = error
                packet = nil
            }
            guard let packet else {
                decoder.finish()
                assembler.finish()
                stats.orphanMessages = assembler.orphans
                done = true
                file.close()
                continue
            }
            stats.packets += 1
            if decoder.decode(link: file.linkType, packet.data, packet: packet.number, time: packet.time) {
                stats.sipPackets += 1
            }
        }
    }

    // MARK: PacketSink

    func sipMessage(_ bytes: UnsafeRawBufferPointer, packet: Int, time: Int64) -> BodyLength {
        stats.sipMessages += 1
        // Most messages of a dialog need only their start line, CSeq and Call-ID.
        if case .success(let s) = SIPScan.scan(bytes), !s.needsFullParse, !s.badContentLength,
            assembler.handle(s, bytes: bytes, packet: packet, time: time)
        {
            return s.contentLength.map { BodyLength.bytes($0) } ?? .missing
        }
        switch SIPParser.parse(bytes) {
        case .success(let m):
            if m.badContentLength {
                fault("sip-content-length", packet: packet, "Content-Length is not a number; message kept")
            }
            assembler.handle(m, packet: packet, time: time)
            if m.badContentLength { return .invalid }
            return m.contentLength.map { BodyLength.bytes($0) } ?? .missing
        case .failure(let f):
            stats.sipRejected += 1
            fault(f.rawValue, packet: packet, "SIP message unusable: \(f.rawValue)")
            return .unparsed
        }
    }

    func fault(_ code: String, packet: Int, _ message: String) {
        stats.faults[code, default: 0] += 1
        onFault?(code, packet, message)
    }
}
