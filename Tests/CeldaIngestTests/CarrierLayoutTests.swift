import CeldaCore
import CeldaIngest
import Foundation
import Testing

/// Reads a whole file with the given options.
func readAll(_ path: String, _ configure: (inout ReaderOptions) -> Void = { _ in }) throws -> (DumpReader, [CallRecord])
{
    var o = ReaderOptions()
    o.zone = try ZoneLoader.load("America/Mexico_City")
    configure(&o)
    let r = DumpReader(path: path, inputIndex: 0, options: o)
    var out: [CallRecord] = []
    try r.run { out.append($0) }
    return (r, out)
}

func utc(_ s: String) throws -> EventTime { try CivilTime.parseRFC3339(s).get() }

func tempFile(_ name: String, _ bytes: [UInt8]) -> String {
    let dir = NSTemporaryDirectory() + "celda-layout-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

@Suite struct CorpusCDRTests {
    @Test func asteriskMasterWith21Columns() throws {
        let (r, recs) = try readAll(Paths.corpus("cdr/asterisk-cdr-csv-master-newcolumns.csv"))
        #expect(r.layout.name == "asterisk-21")
        #expect(r.layout.encoding == .windows1252)  // one clid holds non-UTF-8 bytes
        #expect(r.stats.read == 84)
        #expect(r.stats.accepted == 84)
        #expect(r.stats.rejected == 0)
        #expect(r.stats.skipped == 0)
        let first = recs[0]
        #expect(r.identities.name(of: first.caller) == "89245555937")
        #expect(r.identities.name(of: first.callee) == "211474")
        #expect(first.start == (try utc("2024-01-27T21:07:24Z")))  // local UTC-6
        #expect(first.durationMs == 27_000)
        #expect(first.answered)
        #expect(r.callID(of: first.source) == "1706368044.0")
        let noAnswer = recs[3]
        #expect(!noAnswer.answered)  // disposition NO ANSWER
        #expect(r.identities.name(of: noAnswer.callee) == "211553")
    }

    @Test func classicEighteenColumnAsteriskIsDetectedToo() throws {
        // The same rows without the three newer columns (peeraccount, linkedid, sequence).
        let data = try Data(
            contentsOf: URL(fileURLWithPath: Paths.corpus("cdr/asterisk-cdr-csv-master-newcolumns.csv")))
        var out: [UInt8] = []
        for line in data.split(separator: 0x0A) {
            var cut = line.endIndex
            for _ in 0..<3 { cut = line[..<cut].lastIndex(of: 0x2C)! }
            out += line[..<cut] + [0x0A]
        }
        let (r, recs) = try readAll(tempFile("Master.csv", out))
        #expect(r.layout.name == "asterisk")
        #expect(r.stats.accepted == 84)
        #expect(recs[0].start == (try utc("2024-01-27T21:07:24Z")))
        #expect(r.callID(of: recs[0].source) == "1706368044.0")
    }

    @Test func asteriskCustomOrder() throws {
        let (r, recs) = try readAll(Paths.corpus("cdr/asterisk-cdr-custom-master.csv"))
        #expect(r.layout.name == "asterisk-custom")
        #expect(r.stats.read == 14)
        #expect(r.stats.accepted == 14)
        let first = recs[0]
        #expect(r.identities.name(of: first.caller) == "client1")  // a PBX user, kept as an identity
        #expect(r.identities.name(of: first.callee) == "6789")
        #expect(first.start == (try utc("2023-07-26T07:51:32Z")))
        #expect(first.durationMs == 13_000)
        #expect(first.answered)
        #expect(r.callID(of: first.source) == "1690325492.2")
        #expect(!recs[1].answered)
        #expect(recs[1].durationMs == 0)
    }

    @Test func freeswitchSpreadsheetExportWithADuplicate() throws {
        let path = Paths.corpus("cdr/freeswitch-cdr-csv-example-template.csv")
        var o = ReaderOptions()
        o.zone = try ZoneLoader.load("America/Mexico_City")
        let r = DumpReader(path: path, inputIndex: 0, options: o)
        let set = DumpSet(readers: [r], maxDisorder: 2 * CivilTime.hour)
        let recs = set.orderedRecords(sites: SiteTable(towers: [], prisons: []))
        #expect(r.layout.name == "freeswitch")
        #expect(r.stats.read == 10)
        #expect(r.stats.accepted == 9)
        #expect(r.stats.duplicate == 1)
        let first = try #require(recs.first { r.callID(of: $0.source) == "d80e22e0-4c15-11ea-97a0-9dd79410affb" })
        #expect(r.identities.name(of: first.caller) == "1002")
        #expect(first.start == (try utc("2020-02-11T04:41:00Z")))  // 2020/2/10 22:41 local
        #expect(first.durationMs == 9_000)
        #expect(first.answered)
        let unanswered = try #require(recs.first { r.callID(of: $0.source) == "f1542038-4c15-11ea-97ca-9dd79410affb" })
        #expect(!unanswered.answered)
    }

    @Test func cdrStatsNeedsItsDirectionCodesMapped() throws {
        let path = Paths.corpus("cdr/cdr-stats-CDRImport-2015-10-26.csv")
        let (r, recs) = try readAll(path)
        #expect(r.stats.read == 5)
        #expect(r.stats.rejected == 5)
        #expect(r.stats.rejectedByReason == ["call-type": 5])
        #expect(recs.isEmpty)
        let mapping = try CDRMapping.parse("[call_types]\noutgoing = [\"1\"]\n", path: "m.toml")
        let (m, mapped) = try readAll(path) { $0.mapping = mapping }
        #expect(m.stats.accepted == 5)
        let first = mapped[0]
        #expect(m.callID(of: first.source) == "96aa82fe-7bd1-11e5-a230-5c514f6a0f72")
        #expect(m.identities.name(of: first.caller) == "904151440")
        #expect(m.identities.name(of: first.callee) == "+34798400122")
        #expect(first.start == (try utc("2015-10-21T17:13:10Z")))  // daylight time (UTC-5) in 2015
        #expect(first.durationMs == 50_000)  // billsec, not the ringing-inclusive duration
    }
}

@Suite struct DetectionTests {
    static let rows = [
        ("c1", "2026-01-20 09:00:00", "5512345678", "5533445566", "30"),
        ("c2", "2026-01-20 09:01:00", "5512345678", "5533445567", "0"),
    ]

    @Test(arguments: [",", ";", "\t", "|"])
    func delimiterIsDetected(d: String) throws {
        var text = ["call_id", "start_time", "caller", "callee", "duration_s"].joined(separator: d) + "\n"
        for r in Self.rows { text += [r.0, r.1, r.2, r.3, r.4].joined(separator: d) + "\n" }
        let (reader, recs) = try readAll(tempFile("d.csv", Array(text.utf8)))
        #expect(reader.layout.delimiter == d.utf8.first)
        #expect(recs.count == 2)
        #expect(recs[0].start == (try utc("2026-01-20T15:00:00Z")))
    }

    @Test func spanishHeadersTitleLinesSplitDateTimeCallTypesAndWindows1252() throws {
        var bytes: [UInt8] = []
        func line(_ s: String) {
            for u in s.unicodeScalars { bytes.append(UInt8(u.value)) }
            bytes += [0x0D, 0x0A]
        }
        line("TELEFONOS DE MEXICO - SÁBANA DE LLAMADAS")
        line("")
        line("Folio;Fecha;Hora;Número A;Número B;Tipo;Duración;Celda;Latitud;Longitud")
        line("1;20/01/2026;09:00:00;52 55 1234 5678;5533445566;SALIENTE;30;334-020-1-2;19.42;-99.75")
        line("2;20/01/2026;09:01:00;5533445566;5512345678;ENTRANTE;30;334-020-1-2;19.42;-99.75")
        line("3;20/01/2026;09:02:00;5512345678;5533445566;SMS SALIENTE;0;334-020-1-2;19.42;-99.75")
        line("4;20/01/2026;09:03:00;5512345678;5533445566;FAX;0;334-020-1-2;19.42;-99.75")
        line("5;21/01/2026;9:04 p. m.;5512345678;5533445566;Saliente;12;SITE-TOLUCA-7;19.30;-99.60")
        let (r, recs) = try readAll(tempFile("sabana.csv", bytes))
        #expect(r.layout.encoding == .windows1252)
        #expect(r.layout.delimiter == 0x3B)
        #expect(r.stats.titleLines == 1)
        #expect(r.stats.blankLines == 1)
        #expect(r.stats.read == 5)
        #expect(r.stats.accepted == 2)
        #expect(r.stats.skippedByReason == ["incoming": 1, "sms": 1])
        #expect(r.stats.rejectedByReason == ["call-type": 1])
        #expect(recs[0].start == (try utc("2026-01-20T15:00:00Z")))
        #expect(recs[0].caller.formatted == "+525512345678")
        #expect(recs[1].start == (try utc("2026-01-22T03:04:00Z")))
        #expect(recs[1].cell.isSiteCode)
        #expect(r.siteNames.name(of: recs[1].cell) == "SITE-TOLUCA-7")
        let towers = r.takeNewTowers()
        #expect(towers.count == 2)
        #expect(towers[0].location == GeoPoint(lat: 19.42, lon: -99.75))
        #expect(r.callID(of: recs[1].source) == "5")
    }

    @Test func separateCellColumnsInHexFromAMapping() throws {
        let text = """
            A,B,WHEN,MCC,MNC,LAC,CI
            5512345678,5533445566,1768921445,334,20,1F4,4960004

            """
        let mapping = try CDRMapping.parse(
            """
            cell_hex = true
            [columns]
            caller = "A"
            callee = 2
            start_time = "WHEN"
            """, path: "m.toml")
        let (r, recs) = try readAll(tempFile("hex.csv", Array(text.utf8))) { $0.mapping = mapping }
        #expect(r.stats.accepted == 1)
        #expect(recs[0].cell == CellID(mcc: 334, mnc: 20, lac: 0x1F4, ci: 0x496_0004))
        #expect(recs[0].start == 1_768_921_445 * CivilTime.second)  // epoch seconds
    }

    @Test func mappingErrorsNameTheLineAndKey() {
        #expect(throws: InputError.self) { try CDRMapping.parse("[columns]\nwho = \"A\"\n", path: "m.toml") }
        do {
            _ = try CDRMapping.parse("delimiter = \";\"\ndate_order = \"ymd\"\n", path: "m.toml")
        } catch {
            #expect(error.message.contains("line 2"))
            #expect(error.message.contains("date_order"))
        }
    }

    @Test func renderedMappingReproducesTheDetection() throws {
        let path = Paths.corpus("cdr/cdr-stats-CDRImport-2015-10-26.csv")
        let (r, _) = try readAll(path)
        let text = CDRMapping.render(r.layout, timezone: "America/Mexico_City", countryCode: 52)
        let m = try CDRMapping.parse(text, path: "rendered")
        let (again, _) = try readAll(path) { $0.mapping = m }
        #expect(again.layout.columns == r.layout.columns)
        #expect(again.layout.delimiter == r.layout.delimiter)
    }

    @Test func unknownHeaderlessShapeNamesWhatToDo() {
        let path = tempFile("odd.csv", Array("1,2,3\n4,5,6\n".utf8))
        do {
            _ = try readAll(path)
            Issue.record("expected an error")
        } catch let e as InputError {
            #expect(e.message.contains("--layout"))
            #expect(e.message.contains("--mapping"))
        } catch {
            Issue.record("\(error)")
        }
    }
}

@Suite struct MultiInputTests {
    @Test func overlappingExportsMergeAndCountDuplicatesOnce() throws {
        let header = "call_id,start_time,caller,callee,duration_s\n"
        func rows(_ r: Range<Int>) -> String {
            r.map {
                "c\($0),2026-01-20T09:\(String(format: "%02d", $0 / 60)):\(String(format: "%02d", $0 % 60))Z,5512345678,55\(33_000_000 + $0),5\n"
            }.joined()
        }
        let a = tempFile("a.csv", Array((header + rows(0..<2000)).utf8))
        let b = tempFile("b.csv", Array((header + rows(1500..<3000)).utf8))
        var o = ReaderOptions()
        o.zone = .utc
        let readers = [a, b].enumerated().map { DumpReader(path: $1, inputIndex: $0, options: o) }
        let set = DumpSet(readers: readers, maxDisorder: 2 * CivilTime.hour)
        let recs = set.orderedRecords(sites: SiteTable(towers: [], prisons: []))
        #expect(recs.count == 3000)
        #expect(set.stats.read == 3500)
        #expect(set.stats.duplicate == 500)
        #expect(set.stats.accepted == 3000)
        #expect(recs.map(\.start) == recs.map(\.start).sorted())
    }

    @Test func directoriesExpandToTheirFilesInNameOrder() throws {
        let a = tempFile("2.csv", [])
        let dir = (a as NSString).deletingLastPathComponent
        _ = FileManager.default.createFile(atPath: dir + "/1.csv", contents: Data())
        _ = FileManager.default.createFile(atPath: dir + "/.hidden", contents: Data())
        #expect(FileSystemLite.expand([dir]) == [dir + "/1.csv", dir + "/2.csv"])
    }
}

@Suite struct ReferenceFormatTests {
    @Test func carrierSiteListWithSectors() throws {
        let text = """
            CELL_ID,LATITUD,LONGITUD,AZIMUTH,BEAMWIDTH,RANGE
            334-020-1-2,19.425,-99.7487,180,60,2000
            SITE-9,19.425,-99.7487,0,60,2000

            """
        let load = try TowerFile.load(path: tempFile("sites.csv", Array(text.utf8)))
        #expect(load.towers.count == 2)
        #expect(load.towers[0].azimuth == 180)
        #expect(load.towers[0].beamwidth == 60)
        #expect(load.towers[1].cell.isSiteCode)
        #expect(load.siteNames.name(of: load.towers[1].cell) == "SITE-9")
        let prison = Prison(id: "a", name: "A", location: GeoPoint(lat: 19.4205833, lon: -99.7487472), radiusM: 100)
        let sites = SiteTable(towers: load.towers, prisons: [prison])
        // 500 m north of the prison: the sector facing south reaches it, the one facing north does not.
        #expect(sites.reachesPrison(sites.site(of: load.towers[0].cell)))
        #expect(!sites.reachesPrison(sites.site(of: load.towers[1].cell)))
    }

    @Test func geoJSONPointsAndPolygons() throws {
        let json = """
            {"type":"FeatureCollection","features":[
             {"type":"Feature","id":"node/1","properties":{"name":"Penal Punto","radius_m":300},
              "geometry":{"type":"Point","coordinates":[-99.75,19.42]}},
             {"type":"Feature","properties":{"@id":"way/2","name":"Penal Polígono"},
              "geometry":{"type":"Polygon","coordinates":[[[-99.10,19.40],[-99.09,19.40],[-99.09,19.41],[-99.10,19.41],[-99.10,19.40]]]}},
             {"type":"Feature","properties":{"id":"r3","name":"Two yards"},
              "geometry":{"type":"MultiPolygon","coordinates":[[[[-98.0,20.0],[-97.99,20.0],[-97.99,20.01],[-98.0,20.0]]],[[[-98.1,20.1],[-98.09,20.1],[-98.09,20.11],[-98.1,20.1]]]]}}
            ]}
            """
        let prisons = try PrisonFile.load(path: tempFile("prisons.geojson", Array(json.utf8)))
        #expect(prisons.map(\.id) == ["node/1", "way/2", "r3"])
        #expect(prisons[0].radiusM == 300)
        #expect(prisons[1].name == "Penal Polígono")
        #expect(prisons[1].polygons.count == 1)
        #expect(prisons[2].polygons.count == 2)
        // Inside the square: 0 m; 0.005° (≈ 525 m) east of its east edge: about 525 m.
        #expect(prisons[1].distanceToArea(from: GeoPoint(lat: 19.405, lon: -99.095)) == 0)
        let d = prisons[1].distanceToArea(from: GeoPoint(lat: 19.405, lon: -99.085))
        #expect(abs(d - 525) < 10)
    }

    @Test func badGeoJSONNamesTheFeature() {
        let json =
            #"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#
        do {
            _ = try PrisonFile.load(path: tempFile("p.geojson", Array(json.utf8)))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("feature 1"))
            #expect(error.message.contains("LineString"))
        }
    }
}

@Suite struct SettingsFileTests {
    @Test func configFileOverridesDefaultsAndNamesBadLines() throws {
        let s = try SettingsFile.parse(
            "[burst]\nwindow = \"90m\"\nmin_calls = 25\n[victim]\nwindow = 86400\n", path: "c.toml")
        #expect(s.burst.window == 90 * CivilTime.minute)
        #expect(s.burst.minCalls == 25)
        #expect(s.victim.window == 24 * CivilTime.hour)
        let typo = Self.error(parsing: "[burst]\nwindow = \"90m\"\nmin_cals = 25\n")
        #expect(typo.contains("line 3"))
        #expect(typo.contains("burst.min_cals"))
        // The printed defaults read back to the defaults.
        #expect(try SettingsFile.parse(DetectorSettings().rendered(), path: "d.toml") == DetectorSettings())
        // A whole number outside its range names the range.
        #expect(try SettingsFile.parse("[victim]\npair_sketch_mib = 512\n", path: "c.toml").victim.pairSketchMiB == 512)
        let outOfRange = Self.error(parsing: "[victim]\npair_sketch_mib = 0\n")
        #expect(outOfRange.contains("line 2"))
        #expect(outOfRange.contains("from 1 to 8192"))
    }

    /// The message of the error a settings file gives ("" and a recorded issue when it parses).
    static func error(parsing text: String) -> String {
        do {
            _ = try SettingsFile.parse(text, path: "c.toml")
            Issue.record("expected an error")
            return ""
        } catch {
            return error.message
        }
    }

    @Test func numberListsTakeNumbersAndPrefixes() throws {
        let list = try SettingsFile.numberList("# known\n55 1234 5678\n+52333*\n\n", path: "w.txt", plan: .mexico)
        #expect(list.contains(.e164(525_512_345_678)))
        #expect(list.contains(.e164(523_331_234_567)))
        #expect(!list.contains(.e164(523_341_234_567)))
        #expect(throws: InputError.self) { try SettingsFile.numberList("55ABC\n", path: "w.txt", plan: .mexico) }
    }
}

@Suite struct SiteCodeEncodingTests {
    @Test func windows1252SiteCodesKeepTheirNames() throws {
        var bytes: [UInt8] = []
        for u in "fecha,hora,numero a,numero b,celda\n20/01/2026,09:00:00,5512345678,5533445566,PEÑA-3\n".unicodeScalars
        {
            bytes.append(UInt8(u.value))
        }
        let (r, recs) = try readAll(tempFile("cp.csv", bytes))
        #expect(r.layout.encoding == .windows1252)
        #expect(recs[0].cell.isSiteCode)
        #expect(r.siteNames.name(of: recs[0].cell) == "PEÑA-3")
    }
}
