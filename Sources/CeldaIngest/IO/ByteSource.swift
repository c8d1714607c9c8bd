import CZlib

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Something that fills a buffer with the next bytes of a decoded stream (a pipe, a regular
/// file read in chunks, a gzip member chain).
public protocol ByteSource {
    /// Reads up to `buffer.count` bytes; returns 0 at the end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int
    /// Releases resources.
    mutating func close()
}

/// A file descriptor read with `read(2)` (stdin, pipes, or files when mapping is not wanted).
public struct DescriptorSource: ByteSource {
    public let fd: Int32
    public let path: String
    let ownsDescriptor: Bool

    public init(fd: Int32, path: String, ownsDescriptor: Bool) {
        self.fd = fd
        self.path = path
        self.ownsDescriptor = ownsDescriptor
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw InputError(.unreadable, path: path, "read failed: \(String(cString: strerror(errno)))")
        }
    }

    public mutating func close() {
        if ownsDescriptor { _ = Glibc.close(fd) }
    }
}

/// Inflates gzip data (any number of concatenated members) from another source.
public struct GzipSource<Inner: ByteSource>: ByteSource {
    var inner: Inner
    let path: String
    /// On the heap: zlib checks that its state still points at the same `z_stream` address.
    let stream: UnsafeMutablePointer<z_stream>
    var input: UnsafeMutableRawBufferPointer
    var initialised = false
    var innerDone = false
    var finished = false
    var sawMemberEnd = false
    var closed = false
    /// Bytes of compressed input consumed (for messages).
    public private(set) var compressedBytes = 0

    public init(_ inner: Inner, path: String) {
        self.inner = inner
        self.path = path
        self.input = UnsafeMutableRawBufferPointer.allocate(byteCount: 128 * 1024, alignment: 16)
        self.stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if finished { return 0 }
        if !initialised {
            let rc = inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else { throw InputError(.unreadable, path: path, "zlib initialisation failed") }
            initialised = true
        }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(buffer.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !innerDone {
                let n = try inner.read(into: input)
                if n == 0 {
                    innerDone = true
                } else {
                    compressedBytes += n
                    stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_in = UInt32(n)
                }
            }
            if stream.pointee.avail_in == 0 && innerDone {
                let produced = buffer.count - Int(stream.pointee.avail_out)
                if !sawMemberEnd {
                    if produced > 0 { return produced }
                    throw InputError(
                        .truncated, path: path,
                        "gzip stream cut short after \(compressedBytes) compressed bytes (the file is incomplete)")
                }
                finished = true
                return produced
            }
            let rc = inflate(stream, Z_NO_FLUSH)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                sawMemberEnd = false
            case Z_STREAM_END:
                sawMemberEnd = true
                // Another member may follow (concatenated gzip files).
                inflateReset(stream)
            default:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "code \(rc)"
                throw InputError(
                    .corrupt, path: path, "gzip data is corrupt near compressed byte \(compressedBytes): \(msg)")
            }
            if rc == Z_BUF_ERROR && stream.pointee.avail_in == 0 && innerDone { continue }
        }
        return buffer.count
    }

    public mutating func close() {
        guard !closed else { return }
        closed = true
        if initialised { inflateEnd(stream) }
        initialised = false
        input.deallocate()
        input = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        stream.deallocate()
        inner.close()
    }
}

/// A read-only memory map of a regular file. Pages behind the reader are released with
/// `MADV_DONTNEED` so resident memory does not grow with the file.
public final class MappedFile {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int
    private var releasedUpTo = 0

    /// Maps `fd` (the descriptor may be closed afterwards).
    public init(fd: Int32, size: Int, path: String) throws(InputError) {
        self.path = path
        self.length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw InputError(.unreadable, path: path, "mmap failed: \(String(cString: strerror(errno)))")
        }
        // No MADV_SEQUENTIAL: with it, the decoding threads' reads of the mapping took 10.8% of a
        // two-thread run's samples, almost all on the loads of the scan; without it, 1.6%
        // (perf, 10M rows, 2026-12-03). The kernel's own read-around still reads ahead.
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Tells the kernel the bytes before `offset` are no longer needed (they can be re-read later
    /// for evidence; the kernel faults them in again from the page cache or disk).
    public func release(upTo offset: Int) {
        guard let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let end = offset / page * page
        guard end - releasedUpTo >= 8 << 20 else { return }
        _ = madvise(base + releasedUpTo, end - releasedUpTo, MADV_DONTNEED)
        releasedUpTo = end
    }

    deinit {
        if let base { munmap(base, length) }
    }
}

/// Opening inputs: regular files are mapped, stdin and pipes are read in chunks, gzip is
/// inflated (detected by its magic number, not its name).
public enum InputOpener {
    /// What an opened input turned out to be.
    public enum Opened {
        case mapped(MappedFile)
        case stream(any ByteSource, gzip: Bool)
    }

    /// Magic-number sniffing.
    public enum Kind: Equatable, Sendable {
        case text, gzip, pcap, pcapng
    }

    public static func sniff(_ head: UnsafeRawBufferPointer) -> Kind {
        if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return .gzip }
        if head.count >= 4 {
            let m = UInt32(head[0]) << 24 | UInt32(head[1]) << 16 | UInt32(head[2]) << 8 | UInt32(head[3])
            switch m {
            case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1: return .pcap
            case 0x0A0D_0D0A: return .pcapng
            default: break
            }
        }
        return .text
    }

    /// Opens a path (`-` is standard input).
    public static func open(_ path: String) throws(InputError) -> (Opened, Kind, size: Int?) {
        if path == "-" {
            // Peek without consuming: wrap stdin in a source that replays the first bytes.
            var src = PeekSource(DescriptorSource(fd: 0, path: "-", ownsDescriptor: false))
            let kind = try src.peekKind()
            switch kind {
            case .gzip: return try gunzipped(GzipSource(src, path: path), size: nil)
            default: return (.stream(src, gzip: false), kind, nil)
            }
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            throw InputError(
                e == ENOENT ? .notFound : .unreadable, path: path,
                e == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(e)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            _ = Glibc.close(fd)
            throw InputError(.unreadable, path: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            _ = Glibc.close(fd)
            throw InputError(.unreadable, path: path, "is a directory")
        }
        if (st.st_mode & S_IFMT) == S_IFREG {
            var head = [UInt8](repeating: 0, count: 4)
            let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
            let kind = head.withUnsafeBytes { sniff(UnsafeRawBufferPointer(rebasing: $0.prefix(max(0, n)))) }
            if kind == .gzip {
                return try gunzipped(
                    GzipSource(DescriptorSource(fd: fd, path: path, ownsDescriptor: true), path: path),
                    size: Int(st.st_size))
            }
            do throws(InputError) {
                let m = try MappedFile(fd: fd, size: Int(st.st_size), path: path)
                _ = Glibc.close(fd)
                return (.mapped(m), kind, Int(st.st_size))
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
        }
        // A pipe or device.
        var src = PeekSource(DescriptorSource(fd: fd, path: path, ownsDescriptor: true))
        let kind = try src.peekKind()
        if kind == .gzip { return try gunzipped(GzipSource(src, path: path), size: nil) }
        return (.stream(src, gzip: false), kind, nil)
    }

    /// A gzip stream, with the kind of what it holds: a compressed capture is a capture.
    static func gunzipped(_ source: some ByteSource, size: Int?) throws(InputError) -> (Opened, Kind, size: Int?) {
        var peek = PeekSource(source)
        let inner = try peek.peekKind()
        return (.stream(peek, gzip: true), inner == .pcap || inner == .pcapng ? inner : .gzip, size)
    }
}

/// A source whose first bytes can be looked at before the reader consumes them.
public struct PeekSource<Inner: ByteSource>: ByteSource {
    var inner: Inner
    var head: [UInt8] = []
    var headPos = 0

    public init(_ inner: Inner) { self.inner = inner }

    mutating func peekKind() throws(InputError) -> InputOpener.Kind {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { buf.deallocate() }
        var got = 0
        while got < 4 {
            let n = try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[got...]))
            if n == 0 { break }
            got += n
        }
        head = Array(buf.prefix(got))
        return head.withUnsafeBytes { InputOpener.sniff($0) }
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if headPos < head.count {
            let n = min(buffer.count, head.count - headPos)
            head.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + headPos, byteCount: n)
            }
            headPos += n
            return n
        }
        return try inner.read(into: buffer)
    }

    public mutating func close() { inner.close() }
}
