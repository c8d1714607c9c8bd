import CeldaCore

extension DumpReader {
    /// Sets this input up as a packet capture.
    func openCapture(_ opened: InputOpener.Opened) throws(InputError) {
        let reader: CaptureReader
        switch opened {
        case .mapped:
            // libpcap reads the file itself.
            reader = try CaptureReader(path: path, limits: captureLimits)
        case .stream(let source, _):
            reader = try CaptureReader(path: path, stream: source, limits: captureLimits)
        }
        if hashing, path != "-" { sha256 = try Self.fileSHA256(path) }
        reader.onFault = { [unowned self] code, packet, message in
            self.rejects?.rejectPacket(path: self.path, packet: packet, code: code, message: message)
        }
        capture = reader
        spool = CallIDSpool()
        detection = Detection(
            layout: CDRLayout(),
            notes: [
                "capture (\(kind == .pcapng ? "pcapng" : "pcap"), link type \(reader.linkType)); SIP calls assembled per dialog"
            ])
    }

    /// The next call of the capture as a record.
    func nextFromCapture() throws(InputError) -> CallRecord? {
        guard let capture else { return nil }
        while let call = try capture.nextCall() {
            stats.read += 1
            let caller = SIPIdentity.party(call.caller, plan: options.plan, identities: &captureIdentities)
            let callee = SIPIdentity.party(call.callee, plan: options.plan, identities: &captureIdentities)
            if caller.isNone || callee.isNone {
                let which = caller.isNone ? "caller" : "callee"
                stats.rejected += 1
                stats.rejectedByReason[which, default: 0] += 1
                rejects?.rejectPacket(
                    path: path, packet: call.packet, code: which, message: "call \(call.callID) has no \(which)")
                continue
            }
            var id = call.callID
            let offset = id.withUTF8 { spool!.append(UnsafeRawBufferPointer($0)) }
            var flags = CallRecord.Flags()
            if call.answer != nil { flags.insert(.answered) }
            stats.accepted += 1
            lastRowHash = StableHash.combine(StableHash.string(call.callID), UInt64(bitPattern: call.start))
            lastLegKey = call.icid.isEmpty ? 0 : StableHash.string(call.icid)
            return CallRecord(
                start: call.start, durationMs: call.durationMs, flags: flags, caller: caller, callee: callee,
                cell: call.cell, source: SourceRef(input: inputIndex, offset: offset, line: call.packet))
        }
        return nil
    }
}
