// swift-tools-version: 6.2
import PackageDescription

// A nested package so that `swift build`/`swift test` at the root never build ordo-one/benchmark
// (see shared/research/swift.md, "(b) Benchmarks with ordo-one/benchmark 1.38.1").
let package = Package(
    name: "CeldaBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The root package; its identity would otherwise be the directory name.
        .package(name: "celda", path: "../"),
        // `MallocInterposer` is mandatory: the default traits pull in swift-runtime-interposer,
        // which cannot be resolved here. On Swift 6.3 malloc counts come from malloc-interposer.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CeldaBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CeldaCore", package: "celda"),
                .product(name: "CeldaIngest", package: "celda"),
                .product(name: "CeldaSynth", package: "celda"),
            ],
            path: "Benchmarks/CeldaBenchmarks",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
