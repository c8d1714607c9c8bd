import CeldaIngest

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A progress line on standard error, redrawn in place about twice a second, only when standard
/// error is a terminal: bytes read (and the share of the input), rows, rows per second and the
/// time left when the input size is known.
///
/// A class, used from the reading thread only: as a `var` captured by the per-record closure,
/// a struct paid a run-time exclusivity check on every record.
final class Progress {
    let enabled: Bool
    let started = ProcessInfoLite.now()
    @exclusivity(unchecked) var last = 0.0
    @exclusivity(unchecked) var rows = 0
    @exclusivity(unchecked) var shown = false

    init(quiet: Bool) { enabled = !quiet && isatty(2) == 1 }

    /// Called per record; looks at the clock every 64 Ki records.
    @inline(__always) func tick(_ dump: DumpSet) {
        rows += 1
        if enabled, rows & 0xFFFF == 0 { redraw(dump) }
    }

    private func redraw(_ dump: DumpSet) {
        let now = ProcessInfoLite.now()
        guard now - last >= 0.5 else { return }
        last = now
        let elapsed = now - started
        let rate = Double(rows) / max(elapsed, 1e-3)
        let (done, total) = dump.progress
        var text = "celda: \(Summary.grouped(rows)) rows, \(Summary.grouped(Int(rate))) rows/s"
        if let total, total > 0 {
            let share = Double(done) / Double(total)
            text =
                "celda: \(Self.megabytes(done)) of \(Self.megabytes(total)) (\(Int(share * 100))%), "
                + text.dropFirst(7)
            if share > 0.01 {
                let left = Int(elapsed / share - elapsed)
                text += ", ETA \(left / 60):" + (left % 60 < 10 ? "0" : "") + String(left % 60)
            }
        } else if done > 0 {
            text = "celda: \(Self.megabytes(done)) read, " + text.dropFirst(7)
        }
        var bytes = Array(("\r" + text + "\u{1B}[K").utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
        shown = true
    }

    /// Clears the line before the summary.
    func end() {
        guard shown else { return }
        var bytes = Array("\r\u{1B}[K".utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    static func megabytes(_ n: Int) -> String {
        n >= 1 << 30
            ? String(Double(n / (1 << 20)) / 1024).prefix(5) + " GB"
            : String(n / (1 << 20)) + " MB"
    }
}
