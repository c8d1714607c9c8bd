import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda calls`: the SIP calls of packet captures as a CSV table.
struct Calls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the SIP calls of pcap/pcapng captures as CSV (one row per dialog).",
        discussion: """
            Columns: call_id,start_time,answer_time,end_time,duration_s,caller,callee,cell_id,disposition,icid,source. \
            The table reads back with `celda analyze` and gives the same alerts as the capture. Problems in the \
            capture are counted on standard error with their packet numbers; a capture cut short keeps the calls \
            before the cut and exits 1.
            """
    )

    @Argument(help: "Captures (pcap or pcapng).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Where to write the table (- for standard output).")
    var output: String = "-"

    @Option(name: .customLong("country-code"), help: "Country calling code for national numbers.")
    var countryCode: UInt64 = 52

    @Flag(help: "No counts on standard error.")
    var quiet = false

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("no capture given") }
    }

    func run() throws {
        var plan = NumberPlan.mexico
        plan.countryCode = countryCode
        let out: OutputFile
        do { out = try OutputFile(path: output) } catch {
            ProcessInfoLite.stderr("celda: --output \(error)")
            throw CeldaExit(code: 64)
        }
        var failed = false
        var shown = 0
        do {
            try out.write(CallsCSV.header)
            for path in FileSystemLite.expand(inputs) {
                let reader: CaptureReader
                do throws(InputError) { reader = try CaptureReader.open(path) } catch {
                    ProcessInfoLite.stderr("celda: \(error)")
                    failed = true
                    continue
                }
                reader.onFault = { _, packet, message in
                    if shown < 10 && !quiet { ProcessInfoLite.stderr("celda: \(path)#\(packet): \(message)") }
                    shown += 1
                }
                // Rows are gathered and written 64 KiB at a time (a table, not the alert log); what
                // was read before a capture is cut short is written too.
                var buffer: [UInt8] = []
                buffer.reserveCapacity(1 << 17)
                var dates = CallsCSV.Dates()
                do throws(InputError) {
                    while let call = try reader.nextCall() {
                        CallsCSV.append(call, plan: plan, file: path, dates: &dates, to: &buffer)
                        if buffer.count >= 1 << 16 {
                            try out.write(buffer)
                            buffer.removeAll(keepingCapacity: true)
                        }
                    }
                } catch {
                    ProcessInfoLite.stderr("celda: \(error)")
                    failed = true
                }
                if !buffer.isEmpty { try out.write(buffer) }
                if !quiet { ProcessInfoLite.stderr("celda: \(path): " + CaptureSummary.line(reader.stats)) }
            }
            try out.close()
        } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
        if failed { throw CeldaExit(code: 1) }
    }
}

enum CaptureSummary {
    static func line(_ s: CaptureStats) -> String {
        var text =
            "\(s.packets) packets, \(s.sipPackets) with SIP, \(s.sipMessages) SIP messages "
            + "(\(s.sipRejected) unusable), \(s.calls) calls"
        if s.orphanMessages > 0 { text += ", \(s.orphanMessages) in-dialog messages without their INVITE" }
        if !s.faults.isEmpty {
            text +=
                "; problems: "
                + s.faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        return text
    }
}
