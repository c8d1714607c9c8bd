import CeldaCore
import CeldaIngest
import Foundation
import Testing

/// A source that hands out an in-memory byte array in random-sized pieces.
struct PiecewiseSource: ByteSource {
    let bytes: [UInt8]
    var pos = 0
    var rng: SplitMix
    let maxPiece: Int

    init(_ bytes: [UInt8], seed: UInt64, maxPiece: Int) {
        self.bytes = bytes
        self.rng = SplitMix(seed)
        self.maxPiece = maxPiece
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        let n = min(buffer.count, bytes.count - pos, Int(rng.next() % UInt64(maxPiece)) + 1)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pos, byteCount: n) }
        pos += n
        return n
    }

    mutating func close() {}
}

struct SplitMix {
    var s: UInt64
    init(_ seed: UInt64) { s = seed }
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes random CSV with quotes, doubled quotes, embedded delimiters and newlines, CRLF and LF.
func randomCSV(rows: Int, seed: UInt64) -> (text: [UInt8], fields: [[String]]) {
    var rng = SplitMix(seed)
    var out: [UInt8] = []
    var expected: [[String]] = []
    let alphabet = Array("abcXYZ019 +-:.,\"\n".utf8)
    for _ in 0..<rows {
        let width = Int(rng.next() % 5) + 1
        var row: [String] = []
        for f in 0..<width {
            let len = Int(rng.next() % 8)
            let bytes = (0..<len).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            var value = String(decoding: bytes, as: UTF8.self)
            let needsQuotes = bytes.contains(0x2C) || bytes.contains(0x22) || bytes.contains(0x0A)
            if !needsQuotes && rng.next() % 4 != 0 {
                if value.isEmpty && width == 1 { value = "x" }
                out.append(contentsOf: value.utf8)
            } else {
                out.append(0x22)
                for b in value.utf8 {
                    out.append(b)
                    if b == 0x22 { out.append(0x22) }
                }
                out.append(0x22)
            }
            if f < width - 1 { out.append(0x2C) }
            row.append(value)
        }
        if rng.next() % 2 == 0 { out.append(0x0D) }
        out.append(0x0A)
        expected.append(row)
    }
    return (out, expected)
}

/// Every row of `bytes`, scanned in one buffer with the end of input at its end.
func scanWhole(_ bytes: ArraySlice<UInt8>) -> [[String]] {
    var rows: [[String]] = []
    Array(bytes).withUnsafeBytes { buf in
        var fields: [FieldSpan] = []
        var pos = 0
        while pos < buf.count {
            guard case .row(let next, _) = CSVScanner().scan(buf, from: pos, eof: true, fields: &fields) else {
                Issue.record("scan failed at \(pos)")
                return
            }
            rows.append(fields.map { CSVScanner.text($0, in: buf) })
            pos = next
        }
    }
    return rows
}

func collect(_ row: Row) -> [String] { row.fields.map { CSVScanner.text($0, in: row.buffer) } }

@Suite struct CSVScannerTests {
    @Test func simpleRows() {
        var s = "a,\"b,c\",\"d\"\"e\"\r\nf,,g\n\"multi\nline\",x"
        var rows: [[String]] = []
        s.withUTF8 { utf8 in
            let buf = UnsafeRawBufferPointer(utf8)
            var fields: [FieldSpan] = []
            var pos = 0
            while pos < buf.count {
                guard case .row(let next, _) = CSVScanner().scan(buf, from: pos, eof: true, fields: &fields) else {
                    break
                }
                rows.append(fields.map { CSVScanner.text($0, in: buf) })
                pos = next
            }
        }
        #expect(rows == [["a", "b,c", "d\"e"], ["f", "", "g"], ["multi\nline", "x"]])
    }

    /// Oracle: random RFC 4180 text scanned whole equals the fields written.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomCSVMatchesWhatWasWritten(seed: UInt64) {
        let (text, expected) = randomCSV(rows: 400, seed: seed)
        #expect(scanWhole(text[...]) == expected)
    }

    /// Oracle for the 64-byte block scan: wide unquoted rows (up to 300 fields, past the fast
    /// path's 256), some with a literal quote, a CR inside a field or a CRLF end, scanned in one
    /// buffer and each alone in a buffer that ends at its line feed (the short tail path), give
    /// the fields written.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func wideUnquotedRowsMatchWhatWasWritten(seed: UInt64) {
        var rng = SplitMix(seed)
        let alphabet = Array("abcXYZ0123456789 +-:.;|".utf8)
        var text: [UInt8] = []
        var expected: [[String]] = []
        var ends: [Range<Int>] = []
        for _ in 0..<600 {
            let width = rng.next() % 8 == 0 ? Int(rng.next() % 300) + 1 : Int(rng.next() % 40) + 1
            var row: [String] = []
            let start = text.count
            for f in 0..<width {
                let len = Int(rng.next() % 20)
                var bytes = (0..<len).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                // A lone CR inside a field is data; only one before the LF ends the row. A quote
                // inside an unquoted field (not at its start) is data too.
                if rng.next() % 50 == 0 { bytes.append(0x0D) }
                if len > 1, rng.next() % 200 == 0 { bytes[1 + Int(rng.next() % UInt64(len - 1))] = 0x22 }
                if (width == 1 && bytes.isEmpty) || (f == width - 1 && bytes.last == 0x0D) { bytes.append(0x78) }
                text.append(contentsOf: bytes)
                if f < width - 1 { text.append(0x2C) }
                row.append(String(decoding: bytes, as: UTF8.self))
            }
            if rng.next() % 3 == 0 { text.append(0x0D) }
            text.append(0x0A)
            ends.append(start..<text.count)
            expected.append(row)
        }
        #expect(scanWhole(text[...]) == expected)
        for (k, r) in ends.enumerated() where scanWhole(text[r]) != [expected[k]] {
            Issue.record("row \(k) alone: \(scanWhole(text[r])) against \(expected[k])")
        }
    }

    /// Parser state survives chunk boundaries: any chunking gives the same rows, offsets and lines.
    @Test(arguments: [1, 2, 3, 7, 64, 1000] as [Int])
    func streamWithRandomChunksEqualsWholeBuffer(maxPiece: Int) throws {
        let (text, expected) = randomCSV(rows: 300, seed: UInt64(maxPiece))
        let source = PiecewiseSource(text, seed: UInt64(maxPiece) &* 31, maxPiece: maxPiece)
        var rows: [[String]] = []
        var lines: [Int] = []
        var offsets: [Int] = []
        let cursor = RowCursor(stream: source, chunkSize: 16)
        while try cursor.next() {
            let row = cursor.row
            rows.append(collect(row))
            lines.append(row.line)
            offsets.append(row.offset)
        }
        #expect(rows == expected)
        // Line numbers: one more than the newlines before the row.
        for (i, off) in offsets.enumerated() {
            let newlines = text[0..<off].filter { $0 == 0x0A }.count
            #expect(lines[i] == newlines + 1)
        }
    }

    @Test func unterminatedQuoteRejectsOneLineAndContinues() throws {
        let text = Array("h1,h2\na,\"broken\nb,c\nd,e\n".utf8)
        let cursor = RowCursor(stream: PiecewiseSource(text, seed: 9, maxPiece: 5), chunkSize: 8)
        var seen: [(Bool, Int, [String])] = []
        while try cursor.next() {
            let row = cursor.row
            seen.append((row.malformed, row.line, collect(row)))
        }
        // The quote never closes: the row from line 2 to the end cannot be split. The first
        // physical line is rejected and reading resumes on line 3.
        #expect(seen.map(\.0) == [false, true, false, false])
        #expect(seen.map(\.1) == [1, 2, 3, 4])
        #expect(seen[2].2 == ["b", "c"])
    }
}

@Suite struct DumpReaderTests {
    static func write(_ text: String, name: String) -> String {
        let path = NSTemporaryDirectory() + "celda-test-\(UUID().uuidString)-\(name)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    final class Rejects: RejectSink {
        var items: [(Int, String)] = []
        func reject(path: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer) {
            items.append((line, reason.code))
        }
    }

    static let header = "call_id,start_time,caller,callee,duration_s,cell_id,imei,imsi,answered"
    static let utc: ReaderOptions = {
        var o = ReaderOptions()
        o.zone = .utc
        return o
    }()

    @Test func acceptsGoodRowsAndRejectsBadOnesWithTheirLines() throws {
        let text =
            "\u{FEFF}" + Self.header + "\r\n" + """
                c1,2026-01-20T09:00:00-06:00,+525512345678,5533445566,30,334-020-1-2,359501538688536,334020549093809,1\r
                c2,2026-01-20T09:01:00-06:00,55 1234 5678,"+52 (33) 4455 6677",0,334-020-1-2,,,0\r
                c3,2026-01-20 09:02:00,+525512345678,5533445566,0,334-020-1-2,,,\r
                c4,2026-01-20T09:03:00Z,+5255ABC45678,5533445566,0,334-020-1-2,,,\r
                c5,2026-01-20T09:04:00Z,+525512345678,5533445566,0,not-a-cell,,,\r
                c6,2026-01-20T09:05:00Z,+525512345678\r
                \r
                "c7",2026-01-20T09:06:00.5Z,+525512345678,5533445566,12.5,,,,\r

                """
        let path = Self.write(text, name: "dump.csv")
        let reader = DumpReader(path: path, inputIndex: 0, options: Self.utc)
        let rejects = Rejects()
        reader.rejects = rejects
        var records: [CallRecord] = []
        try reader.run { records.append($0) }
        #expect(reader.stats.read == 7)
        #expect(reader.stats.accepted == 5)
        #expect(reader.stats.rejected == 2)
        #expect(reader.stats.blankLines == 1)
        #expect(rejects.items.map(\.0) == [5, 7])
        #expect(rejects.items.map(\.1) == ["caller", "field-count"])
        #expect(records[0].caller.formatted == "+525512345678")
        #expect(records[0].callee.formatted == "+525533445566")
        #expect(records[0].durationMs == 30_000)
        #expect(records[0].answered)
        #expect(records[0].imei == 359_501_538_688_536)
        #expect(records[0].cell == CellID(mcc: 334, mnc: 20, lac: 1, ci: 2))
        #expect(records[0].start == (try CivilTime.parseRFC3339("2026-01-20T15:00:00Z").get()))
        #expect(records[1].callee.formatted == "+523344556677")
        #expect(!records[1].answered)
        // No offset: local time in the reader's zone (UTC here).
        #expect(records[2].start == (try CivilTime.parseRFC3339("2026-01-20T09:02:00Z").get()))
        // Not a CGI: a carrier site code, named by its text.
        #expect(records[3].cell.isSiteCode)
        #expect(reader.siteNames.name(of: records[3].cell) == "not-a-cell")
        #expect(records[4].durationMs == 12_500)
        #expect(records[4].answered)  // no answered value: answered because the duration is above zero
        #expect(records[4].cell.isNone)
        #expect(reader.callID(of: records[0].source) == "c1")
        #expect(reader.callID(of: records[4].source) == "c7")
    }

    @Test func gzipStreamGivesTheSameRecordsAndCallIDs() throws {
        var text = Self.header + "\n"
        for i in 0..<2_000 {
            text +=
                "id-\(i),2026-01-20T09:00:\(String(format: "%02d", i % 60))-06:00,+5255\(10_000_000 + i),5533445566,\(i % 90),334-020-1-\(i),,,\n"
        }
        let plain = Self.write(text, name: "d.csv")
        let gz = plain + ".gz"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -c '\(plain)' > '\(gz)'"]
        try p.run()
        p.waitUntilExit()
        var a: [CallRecord] = []
        var b: [CallRecord] = []
        let ra = DumpReader(path: plain, inputIndex: 0, options: Self.utc)
        try ra.run { a.append($0) }
        let rb = DumpReader(path: gz, inputIndex: 0, options: Self.utc)
        try rb.run { b.append($0) }
        #expect(a.count == 2_000)
        #expect(a.map(\.start) == b.map(\.start))
        #expect(a.map(\.caller) == b.map(\.caller))
        #expect(a.map(\.source.line) == b.map(\.source.line))
        #expect(rb.callID(of: b[1234].source) == "id-1234")
        #expect(ra.callID(of: a[1234].source) == "id-1234")

        // Cut the gzip file short: the rows before the cut arrive, then a truncation error.
        let data = try Data(contentsOf: URL(fileURLWithPath: gz))
        let cut = gz + ".cut.gz"
        _ = FileManager.default.createFile(atPath: cut, contents: data.prefix(data.count / 2))
        var c: [CallRecord] = []
        let rc = DumpReader(path: cut, inputIndex: 0, options: Self.utc)
        #expect(throws: InputError.self) { try rc.run { c.append($0) } }
        #expect(c.count > 100 && c.count < 2_000)
        #expect(c.map(\.caller) == Array(a.prefix(c.count)).map(\.caller))
    }

    @Test func headerWithoutRequiredColumnsNamesThem() throws {
        let path = Self.write("id,when,who\n1,2,3\n", name: "bad.csv")
        let reader = DumpReader(path: path, inputIndex: 0, options: Self.utc)
        do {
            try reader.run { _ in }
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .badHeader)
            #expect(error.message.contains("start_time"))
            #expect(error.message.contains("caller"))
        }
    }

    @Test func missingFileIsNotFound() {
        let reader = DumpReader(path: "/nonexistent/dump.csv", inputIndex: 0, options: Self.utc)
        #expect(throws: InputError(.notFound, path: "/nonexistent/dump.csv", "no such file")) {
            try reader.run { _ in }
        }
    }

    @Test func packetCaptureIsRecognisedByMagic() throws {
        let path = Self.write("\u{D4}\u{C3}\u{B2}\u{A1}", name: "x.csv")
        // Write the real little-endian pcap magic bytes.
        _ = FileManager.default.createFile(atPath: path, contents: Data([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0]))
        let reader = DumpReader(path: path, inputIndex: 0, options: Self.utc)
        do {
            try reader.run { _ in }
            Issue.record("expected an error")
        } catch {
            // Read as a capture (by magic, whatever the name): this one is cut inside its header.
            #expect(error.code == .corrupt)
            #expect(error.message.contains("capture"))
        }
    }
}
