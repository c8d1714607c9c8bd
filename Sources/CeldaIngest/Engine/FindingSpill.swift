import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A lane's prison-linked calls, kept in an unlinked temporary file (in `$TMPDIR`, else `/tmp`)
/// while the run goes on.
///
/// Everything else a lane holds is bounded by its windows, but the kidnapping stage reads every
/// prison-linked call at the end, so that list grows with the dump (48 bytes a call: about 75 MB
/// at 50 million rows). Written out in blocks, it stays in the page cache or on disk rather than in
/// the process, and is read back after the detectors' state is freed. A write that fails turns
/// spilling off: the calls stay in memory, and nothing is lost either way.
final class FindingSpill {
    /// Calls a lane gathers before they are written out (3 MiB).
    static let defaultBlock = 1 << 16
    private var fd: Int32 = -1
    private var failed = false
    private var bytes = 0
    let directory: String

    init(directory: String = CallIDSpool.tempDirectory()) { self.directory = directory }

    /// Calls written so far.
    var count: Int { bytes / MemoryLayout<VictimLink>.stride }

    /// Appends `calls` to the file; `false` when they must stay in memory.
    func write(_ calls: [VictimLink]) -> Bool {
        if failed { return false }
        if fd < 0 {
            var template = Array("\(directory)/celda-findings-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                failed = true
                return false
            }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        let ok = calls.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(bytes + done))
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        guard ok else {
            // The calls of a short write stay in memory; the file keeps only whole blocks before them.
            failed = true
            return false
        }
        bytes += calls.count * MemoryLayout<VictimLink>.stride
        return true
    }

    /// Every call written, in order, followed by `rest`; the file is closed.
    func readAll(then rest: [VictimLink]) -> [VictimLink] {
        defer { close() }
        guard fd >= 0, bytes > 0 else { return rest }
        var out = [VictimLink](unsafeUninitializedCapacity: count + rest.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            while done < bytes {
                let n = pread(fd, raw.baseAddress! + done, bytes - done, off_t(done))
                if n < 0, errno == EINTR { continue }
                if n <= 0 {
                    // The file was written by this process a moment ago: a read that fails means the
                    // disk failed under us, and the findings cannot be complete.
                    let e = n < 0 ? String(cString: strerror(errno)) : "file shorter than written"
                    fputs("celda: cannot read back findings from a temporary file in \(directory): \(e)\n", stderr)
                    exit(74)
                }
                done += n
            }
            initialized = count
        }
        out.append(contentsOf: rest)
        return out
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        bytes = 0
    }

    deinit { close() }
}
