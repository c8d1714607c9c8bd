// swift-tools-version: 6.2
import PackageDescription

/// Strictness shared by every target of ours (see shared/research/swift.md, conventions 1-2).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "celda",
    products: [
        .executable(name: "celda", targets: ["celda"]),
        .library(name: "CeldaCore", targets: ["CeldaCore"]),
        .library(name: "CeldaIngest", targets: ["CeldaIngest"]),
        // The synthetic world, for the benchmarks' capture.
        .library(name: "CeldaSynth", targets: ["CeldaSynth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // libpcap's header (types and constants). Not linked: the library is loaded with dlopen when
        // a capture is read, so the binary starts where libpcap is absent (issue 7).
        .systemLibrary(name: "CPcap", providers: [.apt(["libpcap-dev"])]),
        // zlib for gzip-compressed dumps.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Compiler intrinsics Swift does not expose (a cache prefetch hint, atomics, huge-page
        // advice, thread names, SSE2 byte matching). No I/O.
        .target(name: "CCeldaSupport"),
        // Model, geo, windowed statistics, detectors, engine, alert encoding. No Foundation, no I/O.
        .target(
            name: "CeldaCore",
            dependencies: [
                "CCeldaSupport",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            swiftSettings: strict
        ),
        // Readers: files (mmap / chunked / gzip), CSV CDR dumps, towers, prisons.
        .target(
            name: "CeldaIngest",
            dependencies: ["CeldaCore", "CCeldaSupport", "CZlib", "CPcap"],
            swiftSettings: strict
        ),
        // The synthetic-world generator behind `celda synth` (lives with the samples it makes).
        .target(
            name: "CeldaSynth",
            dependencies: ["CeldaCore", .product(name: "RealModule", package: "swift-numerics")],
            path: "Samples/Synth",
            swiftSettings: strict
        ),
        // The thin command-line tool.
        .executableTarget(
            name: "celda",
            dependencies: [
                "CeldaCore", "CeldaIngest", "CeldaSynth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "CeldaCoreTests", dependencies: ["CeldaCore"], swiftSettings: strict),
        .testTarget(
            name: "CeldaIngestTests", dependencies: ["CeldaIngest", "CeldaCore"], exclude: ["Golden"],
            swiftSettings: strict),
        .testTarget(
            name: "CeldaCLITests",
            dependencies: ["CeldaCore", "CeldaIngest", "CeldaSynth", "celda"],
            swiftSettings: strict
        ),
    ]
)
