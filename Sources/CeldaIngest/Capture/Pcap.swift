import CPcap

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// libpcap, loaded with `dlopen` the first time a capture is read.
///
/// The binary is not linked against libpcap, so CSV-only runs (and the Spark mode) start on
/// machines without it; reading a capture there is a clear error naming the library.
struct PcapLibrary: @unchecked Sendable {
    typealias OpenFn = @convention(c) (UnsafePointer<CChar>?, UInt32, UnsafeMutablePointer<CChar>?) -> OpaquePointer?
    typealias FOpenFn =
        @convention(c) (UnsafeMutablePointer<FILE>?, UInt32, UnsafeMutablePointer<CChar>?) -> OpaquePointer?
    typealias NextFn =
        @convention(c) (
            OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<pcap_pkthdr>?>?,
            UnsafeMutablePointer<UnsafePointer<UInt8>?>?
        ) -> Int32
    typealias IntFn = @convention(c) (OpaquePointer?) -> Int32
    typealias ErrFn = @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    typealias CloseFn = @convention(c) (OpaquePointer?) -> Void
    typealias VersionFn = @convention(c) () -> UnsafePointer<CChar>?

    let open: OpenFn
    let fopen: FOpenFn
    let next: NextFn
    let datalink: IntFn
    let precision: IntFn
    let geterr: ErrFn
    let close: CloseFn
    let version: String

    /// The loaded library, or why it could not be loaded.
    static let shared: Result<PcapLibrary, InputError> = load()

    static func load() -> Result<PcapLibrary, InputError> {
        var handle: UnsafeMutableRawPointer?
        let names = ["libpcap.so.1", "libpcap.so.0.8", "libpcap.so", "libpcap.dylib"]
        for name in names {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        guard let handle else {
            return .failure(
                InputError(
                    .unsupported, path: "libpcap",
                    "cannot load libpcap (tried \(names.joined(separator: ", "))); install libpcap (Debian: apt-get install libpcap0.8) to read captures"
                ))
        }
        func sym<T>(_ name: String, _ type: T.Type) -> T? {
            guard let p = dlsym(handle, name) else { return nil }
            return unsafeBitCast(p, to: type)
        }
        guard let open = sym("pcap_open_offline_with_tstamp_precision", OpenFn.self),
            let fopen = sym("pcap_fopen_offline_with_tstamp_precision", FOpenFn.self),
            let next = sym("pcap_next_ex", NextFn.self),
            let datalink = sym("pcap_datalink", IntFn.self),
            let precision = sym("pcap_get_tstamp_precision", IntFn.self),
            let geterr = sym("pcap_geterr", ErrFn.self),
            let close = sym("pcap_close", CloseFn.self)
        else {
            return .failure(
                InputError(.unsupported, path: "libpcap", "the libpcap found is too old (needs 1.5 or later)"))
        }
        let version = sym("pcap_lib_version", VersionFn.self).flatMap { $0() }.map { String(cString: $0) } ?? "libpcap"
        return .success(
            PcapLibrary(
                open: open, fopen: fopen, next: next, datalink: datalink, precision: precision, geterr: geterr,
                close: close,
                version: version))
    }
}

/// One packet as libpcap hands it over: valid until the next call to ``PcapFile/next()``.
struct RawPacket {
    /// 1-based packet number in the file.
    var number: Int
    /// Capture time, µs since the epoch (UTC), as stamped.
    var time: Int64
    /// Bytes captured (may be fewer than on the wire).
    var data: UnsafeRawBufferPointer
    /// Length on the wire.
    var wireLength: Int
}

/// An offline capture (pcap or pcapng) opened through libpcap.
final class PcapFile {
    let path: String
    let lib: PcapLibrary
    @exclusivity(unchecked) private var handle: OpaquePointer?
    /// The link-layer header type (`LINKTYPE_*` as libpcap maps it to `DLT_*`).
    let linkType: Int32
    let nanoseconds: Bool
    @exclusivity(unchecked) private(set) var count = 0

    /// Bytes libpcap's file reads take at a time.
    static let bufferSize = 1 << 20
    /// The `FILE`'s buffer, freed once libpcap has closed it.
    private var readBuffer: UnsafeMutablePointer<CChar>?

    /// Opens a capture file by path, or reads one from a stream (a pipe, standard input, or a
    /// gzip-compressed capture) through a `FILE` that pulls from `stream`.
    init(path: String, stream: (any ByteSource)? = nil) throws(InputError) {
        self.path = path
        let lib: PcapLibrary
        switch PcapLibrary.shared {
        case .success(let l): lib = l
        case .failure(let e): throw InputError(e.code, path: path, e.message)
        }
        self.lib = lib
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let precision = UInt32(PCAP_TSTAMP_PRECISION_NANO)
        let h: OpaquePointer?
        if let stream {
            guard let file = StreamFile.open(stream) else {
                throw InputError(.unreadable, path: path, "cannot set up a stream for libpcap")
            }
            celda_file_unlocked(file)
            h = errbuf.withUnsafeMutableBufferPointer { lib.fopen(file, precision, $0.baseAddress) }
            if h == nil { fclose(file) }
        } else if let file = celda_open_mapped(path) {
            // A regular file: read from a mapping (the read calls' copies out of the page cache
            // were a tenth of the decoding thread's time).
            h = errbuf.withUnsafeMutableBufferPointer { lib.fopen(file, precision, $0.baseAddress) }
            if h == nil { fclose(file) }
        } else {
            // Opened here rather than by libpcap, for a bigger buffer: libpcap's own open reads
            // 4 KiB at a time (87,000 `read` calls for a 356 MB capture).
            guard let file = fopen(path, "rb") else {
                throw InputError(.unreadable, path: path, "cannot open: \(String(cString: strerror(errno)))")
            }
            // glibc ignores the size of a buffer it is not given (it takes the file's block size).
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Self.bufferSize)
            setvbuf(file, buffer, _IOFBF, Self.bufferSize)
            celda_file_unlocked(file)
            h = errbuf.withUnsafeMutableBufferPointer { lib.fopen(file, precision, $0.baseAddress) }
            if h == nil {
                fclose(file)
                buffer.deallocate()
            } else {
                readBuffer = buffer
            }
        }
        guard let h else {
            let message = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw InputError(.corrupt, path: path, "cannot read as a capture: \(message)")
        }
        handle = h
        linkType = lib.datalink(h)
        nanoseconds = lib.precision(h) == Int32(PCAP_TSTAMP_PRECISION_NANO)
    }

    /// The next packet, `nil` at the end of the file.
    ///
    /// - Throws: ``InputError`` (`truncated` or `corrupt`) naming the packet where reading stopped.
    func next() throws(InputError) -> RawPacket? {
        guard let handle else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = lib.next(handle, &header, &data)
        if rc == 1, let header, let data {
            count += 1
            let h = header.pointee
            let frac = Int64(h.ts.tv_usec)
            // Classic pcap stores seconds as an unsigned 32-bit count, which libpcap sign-extends:
            // a capture stamped after 2038 keeps its date.
            var seconds = Int64(h.ts.tv_sec)
            if seconds < 0, seconds >= -(1 << 31) { seconds += 1 << 32 }
            let time = seconds * 1_000_000 + (nanoseconds ? frac / 1000 : frac)
            return RawPacket(
                number: count, time: time, data: UnsafeRawBufferPointer(start: data, count: Int(h.caplen)),
                wireLength: Int(h.len))
        }
        if rc == -2 || rc == 0 { return nil }
        let message = lib.geterr(handle).map { String(cString: $0) } ?? "read error"
        let code: InputError.Code = message.contains("truncated") ? .truncated : .corrupt
        throw InputError(code, path: path, "packet \(count + 1): \(message); \(count) packets read before it")
    }

    func close() {
        if let handle { lib.close(handle) }
        handle = nil
        readBuffer?.deallocate()
        readBuffer = nil
    }

    deinit { close() }
}

/// A C `FILE` reading from a ``ByteSource`` (glibc `fopencookie`), so libpcap reads captures
/// from pipes and gzip streams too.
enum StreamFile {
    final class Box {
        var source: any ByteSource
        init(_ s: any ByteSource) { source = s }
    }

    static func open(_ source: any ByteSource) -> UnsafeMutablePointer<FILE>? {
        let box = Unmanaged.passRetained(Box(source)).toOpaque()
        var io = celda_cookie_io()
        io.read = { cookie, buffer, size in
            guard let cookie, let buffer else { return -1 }
            let box = Unmanaged<Box>.fromOpaque(cookie).takeUnretainedValue()
            do throws(InputError) {
                return try box.source.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size))
            } catch {
                return -1
            }
        }
        io.close = { cookie in
            guard let cookie else { return 0 }
            let box = Unmanaged<Box>.fromOpaque(cookie).takeRetainedValue()
            box.source.close()
            return 0
        }
        guard let f = celda_fopencookie(box, "r", io) else {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
        return f
    }
}
