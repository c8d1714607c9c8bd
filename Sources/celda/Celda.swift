import ArgumentParser
import CeldaIngest

/// `celda`: finds extortion call centres run from prisons in call records.
@main
struct Celda: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "celda",
        abstract: "Find extortion call centres run from prisons in call-detail records.",
        discussion: """
            Reads carrier CDR dumps (CSV, optionally gzip), places every call's originating tower against \
            known prison locations and flags chain-call patterns, writing one JSON alert per line.

            Exit status: 0 the run completed (rejected rows are counted, not fatal); 1 an input was missing, \
            unreadable or cut short (alerts for what was read are still written); 64 a usage or configuration error.
            """,
        version: version,
        subcommands: [
            Analyze.self, Calls.self, Columns.self, Config.self, Eval.self, Merge.self, Spark.self, Synth.self,
        ],
        defaultSubcommand: Analyze.self
    )

    /// Entry point: argument errors become one line on stderr and exit 64, never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CeldaExit {
            exit(withCode: error.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help / --version.
                print(fullMessage(for: error))
                exit(withCode: 0)
            }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "error"
            ProcessInfoLite.stderr("celda: \(message)")
            exit(withCode: code.rawValue == 1 ? 64 : code.rawValue)
        }
        exit(withCode: 0)
    }

    static func exit(withCode code: Int32) -> Never {
        Celda.exit(withError: code == 0 ? nil : ExitCode(code))
    }
}

/// A finished run with a non-zero status (the message was already printed).
struct CeldaExit: Error {
    var code: Int32
}

/// A configuration problem: one line, exit 64.
struct ConfigError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
