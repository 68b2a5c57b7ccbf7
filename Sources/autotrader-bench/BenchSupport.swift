import ArgumentParser
import AutoTraderCore
import Foundation

/// What the benchmarks share: the debug-build warning, scratch folders, timing and percentiles.
enum BenchSupport {
    /// Figures from a debug build say nothing about the release program: say so loudly.
    static func warnIfDebugBuild() {
        #if DEBUG
        let banner = String(repeating: "!", count: 78)
        let message = """
            \(banner)
            !! WARNING: this is a DEBUG build. These figures are meaningless.
            !! Build with: \(releaseBuild)
            \(banner)
            """
        print(message)
        FileHandle.standardError.write(Data((message + "\n").utf8))
        #endif
    }

    /// How to build the program whose figures mean something.
    static let releaseBuild = "swift build -c release --scratch-path .build-release --product autotrader-bench"

    static var buildKind: String {
        #if DEBUG
        return "DEBUG (figures meaningless)"
        #else
        return "release"
        #endif
    }

    /// Prints a line at once (progress lines matter when a step takes minutes).
    static func say(_ line: String) {
        print(line)
        fflush(nil) // all output streams (naming `stdout` trips strict concurrency)
    }

    /// Removes a database file and its WAL, shared-memory and lock companions.
    static func removeDatabase(at path: String) {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }

    /// CPU time (user + system) this process has used, in seconds: unlike wall time, other
    /// programs competing for the cores don't inflate it.
    static func processCPUSeconds() -> Double { cpuSeconds(children: false) }

    /// CPU time (user + system) used by this process's children that have ended, in seconds.
    static func childrenCPUSeconds() -> Double { cpuSeconds(children: true) }

    /// User plus system time from getrusage(2), of this process or of its ended children, in seconds.
    private static func cpuSeconds(children: Bool) -> Double {
        #if os(Linux)
        let who = children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue
        #else
        let who = children ? RUSAGE_CHILDREN : RUSAGE_SELF
        #endif
        var usage = rusage()
        getrusage(who, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The load average over the last minute (from /proc/loadavg), when known.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func microseconds(_ duration: Duration) -> Double { seconds(duration) * 1e6 }
    static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1e3 }

    /// Nearest-rank percentile of samples already sorted ascending (p in 0...100).
    static func percentile(_ sorted: [Duration], _ p: Double) -> Duration {
        precondition(!sorted.isEmpty)
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Times `first` and `second` alternately, `count` times each (so both see the same conditions as the
    /// run goes on); each one's durations sorted ascending, ready for `percentile`.
    static func timeAlternately(
        _ count: Int, _ first: () throws -> Void, _ second: () throws -> Void
    ) rethrows -> (first: [Duration], second: [Duration]) {
        let clock = ContinuousClock()
        var firsts: [Duration] = [], seconds: [Duration] = []
        firsts.reserveCapacity(count)
        seconds.reserveCapacity(count)
        for _ in 0..<count {
            firsts.append(try clock.measure(first))
            seconds.append(try clock.measure(second))
        }
        return (firsts.sorted(), seconds.sorted())
    }

    static func mean(_ samples: [Duration]) -> Duration {
        samples.reduce(Duration.zero, +) / samples.count
    }

    static func format(_ value: Double, decimals: Int = 1) -> String {
        String(format: "%.\(decimals)f", value)
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return value < 0 ? "-" + result : result
    }
}

extension BenchSupport {
    /// Prints a benchmark's result block with the load average under it: figures taken on a busy machine say so.
    static func report(_ text: String) {
        say(text + "\n  load average:     \(loadAverage()) (1, 5, 15 min)")
    }
}

extension CommandConfiguration {
    /// A benchmark subcommand: its help ends with the reminder every benchmark needs (a debug build's figures
    /// are meaningless), so no benchmark has to repeat it.
    static func benchmark(_ name: String, abstract: String, discussion: String = "") -> CommandConfiguration {
        let reminder = "A debug build's figures are meaningless; build with: \(BenchSupport.releaseBuild)"
        return CommandConfiguration(
            commandName: name, abstract: abstract,
            discussion: discussion.isEmpty ? reminder : discussion + "\n\n" + reminder)
    }
}

/// A latency benchmark's own `--samples` and `--warmup` defaults, and what one sample times.
struct SamplingDefaults {
    /// What one sample times, plural ("cards", "lookups"): the help and the summary line say it.
    let unit: String
    let samples: Int
    let warmup: Int
}

/// A benchmark that takes `SamplingOptions`: it names its defaults.
protocol Sampled {
    static var samplingDefaults: SamplingDefaults { get }
}

/// `--samples` and `--warmup`, as the latency benchmarks take them; each benchmark brings its own defaults.
struct SamplingOptions<Benchmark: Sampled>: ParsableArguments {
    @Option(help: "Timed \(Benchmark.samplingDefaults.unit).")
    var samples = Benchmark.samplingDefaults.samples

    @Option(help: "Untimed \(Benchmark.samplingDefaults.unit) first.")
    var warmup = Benchmark.samplingDefaults.warmup

    func validate() throws {
        guard samples > 0, warmup >= 0 else { throw ValidationError("--samples must be positive, --warmup not negative") }
    }

    /// "2,000 samples after 200 warm-up cards", for a benchmark's first line.
    var summary: String {
        "\(BenchSupport.grouped(samples)) samples after \(BenchSupport.grouped(warmup)) warm-up \(Benchmark.samplingDefaults.unit)"
    }
}

/// Where a benchmark keeps its databases and logs, as every benchmark takes it on the command line.
struct ScratchOptions: ParsableArguments {
    @Option(name: [.customLong("directory"), .customLong("dir")],
            help: "Folder for the databases and logs (default: a fresh one in /tmp, removed afterwards).")
    var directory: String?

    @Flag(help: "Keep the files at the end.")
    var keep = false

    func make(label: String) throws -> BenchScratch {
        try BenchScratch(directory: directory, keep: keep, label: label)
    }
}

/// A scratch folder for a benchmark's databases: the one given, or a fresh one in /tmp;
/// what the benchmark made is removed at the end unless it is to be kept.
final class BenchScratch {
    let directory: String
    let keep: Bool
    private let createdFolder: Bool
    private var databases: [String] = []
    private var files: [String] = []

    init(directory: String?, keep: Bool, label: String) throws {
        if let directory {
            let existed = FileManager.default.fileExists(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            self.directory = (directory as NSString).standardizingPath
            self.createdFolder = !existed
        } else {
            let name = "autotrader-bench-\(label)-\(UUID().uuidString.prefix(8))"
            self.directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            self.createdFolder = true
        }
        self.keep = keep
    }

    /// A database path in the folder, removed (with its companions) at cleanup.
    func database(_ name: String) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        databases.append(path)
        return path
    }

    /// A plain file path in the folder, removed at cleanup.
    func file(_ name: String) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        files.append(path)
        return path
    }

    func cleanUp() {
        if keep {
            BenchSupport.say("Kept the files in \(directory) (--keep).")
            return
        }
        for path in databases { BenchSupport.removeDatabase(at: path) }
        for path in files { try? FileManager.default.removeItem(atPath: path) }
        if createdFolder, (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: directory)
        }
        BenchSupport.say("Removed the benchmark's files from \(directory).")
    }
}

/// A failure that ends a benchmark with a message (and a non-zero exit).
struct BenchFailure: Error, CustomStringConvertible, LocalizedError {
    let description: String
    init(_ description: String) { self.description = description }
    var errorDescription: String? { description }
}


/// Benchmarks make their cards straight in system.db, with no broker to ask: cash enough for any number.
enum BenchCash {
    static let unlimited = Decimal(string: "1000000000000000")!
}
