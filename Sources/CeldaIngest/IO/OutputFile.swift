import CZlib

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An output file written with plain `write(2)`: each ``writeLine(_:)`` is one system call, so a
/// reader tailing the file never sees half a line. `-` is standard output.
public final class OutputFile {
    public let path: String
    let fd: Int32
    let owns: Bool
    var deflater: UnsafeMutablePointer<z_stream>?
    var zbuf: [UInt8] = []

    /// Creates (truncates) the file.
    public init(path: String, gzip: Bool = false) throws(InputError) {
        self.path = path
        if path == "-" {
            fd = 1
            owns = false
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            owns = true
            if fd < 0 {
                throw InputError(.unreadable, path: path, "cannot create: \(String(cString: strerror(errno)))")
            }
        }
        if gzip {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            // windowBits 31 = gzip wrapper; the header's mtime stays 0 so output is reproducible.
            _ = deflateInit2_(
                z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            deflater = z
            zbuf = [UInt8](repeating: 0, count: 1 << 16)
        }
    }

    /// Writes bytes with as few system calls as possible (one for a line).
    public func write(_ bytes: [UInt8]) throws(InputError) {
        if deflater != nil {
            try deflate(bytes, finish: false)
            return
        }
        try raw(bytes)
    }

    /// Writes one line in one `write(2)`.
    public func writeLine(_ bytes: [UInt8]) throws(InputError) { try write(bytes) }

    /// Writes text.
    public func write(_ text: String) throws(InputError) { try write(Array(text.utf8)) }

    func raw(_ bytes: [UInt8]) throws(InputError) {
        var failure: Int32 = 0
        bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 {
            throw InputError(.unreadable, path: path, "write failed: \(String(cString: strerror(failure)))")
        }
    }

    func deflate(_ bytes: [UInt8], finish: Bool) throws(InputError) {
        guard let z = deflater else { return }
        var input = bytes
        var out: [UInt8] = []
        input.withUnsafeMutableBytes { inb in
            z.pointee.next_in = inb.baseAddress?.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_in = UInt32(inb.count)
            repeat {
                zbuf.withUnsafeMutableBytes { ob in
                    z.pointee.next_out = ob.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    z.pointee.avail_out = UInt32(ob.count)
                    _ = CZlib.deflate(z, finish ? Z_FINISH : Z_NO_FLUSH)
                    out.append(contentsOf: ob.prefix(ob.count - Int(z.pointee.avail_out)))
                }
            } while z.pointee.avail_out == 0 || (finish && z.pointee.avail_in > 0)
        }
        if !out.isEmpty { try raw(out) }
    }

    /// Flushes and closes.
    public func close() throws(InputError) {
        if let z = deflater {
            try deflate([], finish: true)
            deflateEnd(z)
            z.deallocate()
            deflater = nil
        }
        if owns { _ = Glibc.close(fd) }
    }
}

/// Process facts for the summary.
public enum ProcessInfoLite {
    /// Processors online.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Peak resident set size in bytes.
    public static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Writes a line to standard error.
    public static func stderr(_ text: String) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// Whether standard error is a terminal.
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// An environment variable.
    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }
}

/// Directory helpers.
public enum FileSystemLite {
    /// Creates a directory and its parents (no error if it exists).
    public static func makeDirectory(_ path: String) throws(InputError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw InputError(
                    .unreadable, path: path, "cannot create directory: \(String(cString: strerror(errno)))")
            }
        }
    }
}

extension FileSystemLite {
    /// Reads a whole small file (configuration, mappings).
    public static func read(_ path: String) throws(InputError) -> [UInt8] { try readSmallFile(path) }
}
