import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda config`: prints every threshold and window, with a comment on each.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the detector configuration (TOML), with a comment on each setting.",
        discussion: "With --defaults, the built-in values; with --config FILE, that file applied over them."
    )

    @Flag(help: "Print the defaults.")
    var defaults = false

    @Option(help: "A configuration file to check and print in full.")
    var config: String?

    func run() throws {
        var st = DetectorSettings()
        if let path = config, !defaults {
            do {
                let bytes = try FileSystemLite.read(path)
                st = try SettingsFile.parse(String(decoding: bytes, as: UTF8.self), path: path)
            } catch {
                ProcessInfoLite.stderr("celda: --config \(error)")
                throw CeldaExit(code: 64)
            }
        }
        print(st.rendered(), terminator: "")
    }
}
