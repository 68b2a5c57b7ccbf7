import Foundation
import Logging

/// The executor's script algorithms: watches the algorithm folder (a new, changed or removed file
/// takes effect within one scan, 2 s by default), keeps one described worker per healthy script,
/// reports name clashes and broken files, and publishes the whole catalog (the compiled Swift
/// algorithms too) to system.db, where the api and the CLI read it.
public actor ScriptAlgorithms {
    /// What a card's algorithm name comes to.
    public enum Resolution: Sendable {
        case script(ScriptWorker, barsNeeded: Int)
        /// A script this folder had or has, which can't decide now: the reason for the decision log.
        case unavailable(String)
        /// No script by that name was ever seen.
        case unknown
    }

    /// Where the scripts are and how they run.
    public struct Options: Sendable {
        public var directory: String
        public var timeLimit: Duration = .seconds(2)
        public var describeLimit = ScriptWorker.defaultDescribeLimit
        public var scanInterval: Duration = .seconds(2)
        /// RLIMIT_AS of each worker (nil: none).
        public var memoryLimitBytes = ScriptWorker.defaultMemoryLimitBytes

        public init(directory: String) { self.directory = directory }
    }

    private struct Loaded {
        let file: ScriptFile
        let worker: ScriptWorker?
        let description: ScriptDescription?
        let error: String?
    }

    public nonisolated let options: Options
    let compiled: AlgorithmCatalog
    let system: SystemDatabase?
    let logger: Logger
    private var loaded: [String: Loaded] = [:]
    /// Names whose scripts can't run because of a clash, with the message.
    private var clashes: [String: (paths: [String], error: String)] = [:]
    /// Scripts that were removed while running, by name: their cards get a clear reason.
    private var removed: [String: String] = [:]
    private var published: [CatalogEntry]?
    private var scanning = false

    public init(options: Options, compiled: AlgorithmCatalog, system: SystemDatabase?, logger: Logger) {
        self.options = options
        self.compiled = compiled
        self.system = system
        self.logger = logger
        // A worker that dies while its input is written must not kill the executor with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Scans until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await refresh()
            try? await Task.sleep(for: options.scanInterval)
        }
    }

    /// What a card naming `name` runs (compiled Swift algorithms are looked up first, by the caller).
    public func resolve(_ name: String) -> Resolution {
        if let clash = clashes[name] { return .unavailable(clash.error) }
        if let script = loaded[name] {
            if let worker = script.worker, let description = script.description {
                return .script(worker, barsNeeded: description.barsNeeded)
            }
            return .unavailable("script algorithm \(name) can't run: \(script.error ?? "not described yet")")
        }
        if let path = removed[name] {
            return .unavailable("script algorithm \(name) was removed (\(path) is gone); the card is not traded")
        }
        return .unknown
    }

    /// The catalog as published last (nil before the first scan).
    public var catalog: [CatalogEntry]? { published }

    /// Kills every worker.
    public func shutdown() async {
        for script in loaded.values { await script.worker?.stop() }
        loaded = [:]
    }

    /// One look at the folder: starts and describes new and changed scripts, stops removed ones,
    /// publishes the catalog when it changed.
    public func refresh() async {
        guard !scanning else { return }
        scanning = true
        defer { scanning = false }
        let files = ScriptFolder.scan(options.directory)
        let byName = Dictionary(grouping: files, by: \.name)

        let (runnable, newClashes) = Self.sort(files, compiled: compiled)
        for (name, clash) in newClashes where clashes[name]?.error != clash.error {
            logger.error("script algorithm can't run", metadata: ["algorithm": "\(name)", "error": "\(clash.error)"])
        }
        clashes = newClashes

        // Removed, or no longer runnable: stopped.
        for (name, script) in loaded where runnable[name] == nil {
            await script.worker?.stop()
            loaded[name] = nil
            if byName[name] == nil {
                removed[name] = script.file.path
                logger.notice("script algorithm removed; its cards are skipped", metadata: ["algorithm": "\(name)", "file": "\(script.file.path)"])
            }
        }
        // New or changed: a fresh worker, described side by side (a slow import doesn't hold up the others).
        let changed = runnable.values.filter { loaded[$0.name]?.file != $0 }
        let started = await withTaskGroup(of: Loaded.self) { group in
            for file in changed { group.addTask { await self.load(file) } }
            var results: [Loaded] = []
            for await result in group { results.append(result) }
            return results
        }
        for script in started {
            await loaded[script.file.name]?.worker?.stop()
            loaded[script.file.name] = script
            removed[script.file.name] = nil
        }
        publish()
    }

    /// The folder's scripts by name: the ones that may run, and the names that can't, each with its error (the
    /// name of a Swift algorithm, two files with one name, a name that is not lower_snake_case). The backtest's
    /// CLI sorts the folder with the same rules.
    public static func sort(
        _ files: [ScriptFile], compiled: AlgorithmCatalog
    ) -> (runnable: [String: ScriptFile], clashes: [String: (paths: [String], error: String)]) {
        var clashes: [String: (paths: [String], error: String)] = [:]
        var runnable: [String: ScriptFile] = [:]
        for (name, group) in Dictionary(grouping: files, by: \.name) {
            let paths = group.map(\.path).sorted()
            if compiled.entry(named: name) != nil {
                clashes[name] = (paths, "\(paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")) has the name of the Swift algorithm \(name); the script does not run (rename the file)")
            } else if group.count > 1 {
                clashes[name] = (paths, "\(group.count) scripts are named \(name) (\(paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))); neither runs (rename one)")
            } else if !Validation.isValidAlgorithmType(name) {
                clashes[name] = (paths, "\((paths[0] as NSString).lastPathComponent): an algorithm's name must be lower_snake_case (a–z, 0–9, _), at most 64 characters; it does not run")
            } else {
                runnable[name] = group[0]
            }
        }
        return (runnable, clashes)
    }

    private func load(_ file: ScriptFile) async -> Loaded {
        let worker = ScriptWorker(file: file, timeLimit: options.timeLimit, memoryLimitBytes: options.memoryLimitBytes, logger: logger)
        switch await worker.start(describeLimit: options.describeLimit) {
        case .success(let description):
            logger.info("script algorithm ready", metadata: [
                "algorithm": "\(file.name)", "file": "\(file.path)", "bars_needed": "\(description.barsNeeded)", "hash": "\(file.hash)",
            ])
            return Loaded(file: file, worker: worker, description: description, error: nil)
        case .failure(let problem):
            logger.error("script algorithm can't run", metadata: ["algorithm": "\(file.name)", "file": "\(file.path)", "error": "\(problem)"])
            return Loaded(file: file, worker: nil, description: nil, error: problem.description)
        }
    }

    /// A worker gets a plain environment: never the executor's (it holds the broker's keys).
    static func workerEnvironment(name: String) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
            "AUTOTRADER_ALGORITHM": name,
        ]
        if let home = inherited["HOME"] { environment["HOME"] = home }
        return environment
    }

    /// The compiled algorithms and the scripts, as rows; written to system.db when they changed.
    private func publish() {
        var entries = compiled.entries.map {
            CatalogEntry(name: $0.name, kind: .swift, summary: $0.summary, barsNeeded: $0.barsNeeded, status: .ok)
        }
        for (name, clash) in clashes {
            entries.append(CatalogEntry(
                name: name, kind: .script, summary: "", barsNeeded: nil, status: .error, error: clash.error,
                path: clash.paths.joined(separator: ", ")))
        }
        for script in loaded.values {
            entries.append(CatalogEntry(
                name: script.file.name, kind: .script, summary: script.description?.summary ?? "",
                barsNeeded: script.description?.barsNeeded, status: script.error == nil ? .ok : .error, error: script.error,
                path: script.file.path, fileHash: script.file.hash))
        }
        entries.sort { ($0.name, $0.kind.rawValue) < ($1.name, $1.kind.rawValue) }
        guard entries != published else { return }
        do {
            try system?.publishCatalog(entries)
            published = entries
        } catch {
            logger.warning("could not publish the algorithm catalog: \(error)")
        }
    }
}
