import CeldaCore
import CeldaIngest
import Foundation
import Testing

/// Paths of the package and the shared corpus beside it.
enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
    static func corpus(_ p: String) -> String { shared.appendingPathComponent("corpus/" + p).path }
}

@Suite struct TowerFileTests {
    @Test func readsTheRealOpenCellIDExport() throws {
        let load = try TowerFile.load(path: Paths.corpus("towers/ocid-diff-cell-export-2022-09-10.csv"))
        #expect(load.rows == 45_745)
        #expect(load.rejected == 0)
        #expect(load.towers.count == 45_745)
        #expect(load.towers.filter { $0.cell.mcc == 334 }.count == 18)
        let first = load.towers[0]
        #expect(first.cell == CellID(mcc: 262, mnc: 2, lac: 852, ci: 2521))
        #expect(abs(first.location.lon - 10.948628) < 1e-9)
        #expect(abs(first.location.lat - 50.170324) < 1e-9)
        #expect(first.rangeM == 15_762)
    }

    @Test func mexicanRowsPlaceAgainstAPrison() throws {
        let load = try TowerFile.load(path: Paths.corpus("towers/ocid-diff-2022-09-10-mexico-334.csv"))
        #expect(load.towers.count == 18)
        let umts = try #require(load.towers.first { $0.cell.ci == 132_369_134 })
        #expect(umts.cell.formatted == "334-020-22019-132369134")
        #expect(umts.rangeM == 4_452)
        // A prison placed 2 km from that tower is reached (range 4,452 m); one 50 km away is not.
        let near = Prison(
            id: "near", name: "Near", location: GeoPoint(lat: 18.542877 + 0.018, lon: -103.600841), radiusM: 500)
        let far = Prison(id: "far", name: "Far", location: GeoPoint(lat: 19.0, lon: -103.600841), radiusM: 500)
        let sites = SiteTable(towers: load.towers, prisons: [near, far])
        let links = sites.links(ofSite: sites.site(of: umts.cell))
        #expect(links.map(\.prison) == [0])
        #expect(abs(links.first!.edgeDistanceM - 1_500) < 30)
    }

    @Test func badRowsAreCountedWithTheirLines() throws {
        let path = NSTemporaryDirectory() + "towers-\(UUID().uuidString).csv"
        let text = """
            radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal
            LTE,334,20,1,2,0,-99.1,19.4,1000,1,1,0,0,0
            LTE,334,20,1,3,0,abc,19.4,1000,1,1,0,0,0
            LTE,334,20,1,4,0,-99.1,95.0,1000,1,1,0,0,0

            """
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let load = try TowerFile.load(path: path)
        #expect(load.towers.count == 1)
        #expect(load.rejected == 2)
        #expect(load.problems.map { $0.contains(":3:") || $0.contains(":4:") } == [true, true])
    }

    @Test func wrongLayoutIsABadHeader() throws {
        let path = NSTemporaryDirectory() + "towers-\(UUID().uuidString).csv"
        _ = FileManager.default.createFile(atPath: path, contents: Data("a,b\n1,2\n".utf8))
        #expect(throws: InputError.self) { try TowerFile.load(path: path) }
    }
}

@Suite struct PrisonFileTests {
    @Test func builtInListEqualsTheSampleFile() throws {
        let file = try String(
            contentsOf: Paths.root.appendingPathComponent("Samples/prisons/mexico.csv"), encoding: .utf8)
        #expect(DefaultPrisons.csv == file)
    }

    @Test func builtInListMatchesTheCorpus() throws {
        let prisons = try PrisonFile.parse(text: DefaultPrisons.csv, path: "built-in")
        let corpus = try PrisonFile.load(path: Paths.corpus("prisons/mexico-prisons.csv"))
        #expect(prisons == corpus)
        #expect(prisons.count == 4)
        #expect(prisons[0].id == "cefereso-01-altiplano")
        #expect(prisons[0].name == "CEFERESO No. 1 \"Altiplano\" (Almoloya de Juárez)")
        #expect(prisons[0].radiusM == 600)
        #expect(abs(prisons[0].location.lat - 19.4205833) < 1e-9)
        #expect(prisons.allSatisfy { !$0.source.isEmpty })
    }

    @Test func badCoordinateNamesTheLine() throws {
        do {
            _ = try PrisonFile.parse(
                text: "id,name,lat,lon,radius_m\na,A,19.4,-99.1,500\nb,B,north,-99,500\n", path: "p.csv")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("line 3"))
        }
    }
}
