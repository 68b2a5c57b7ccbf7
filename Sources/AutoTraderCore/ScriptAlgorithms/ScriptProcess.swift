import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// glibc has these (2.29+), but Swift's Glibc module doesn't declare them (they need _GNU_SOURCE).
@_silgen_name("pipe2") private func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
@_silgen_name("prlimit")
private func setLimit(_ pid: pid_t, _ resource: Int32, _ new: UnsafePointer<rlimit>?, _ old: UnsafeMutablePointer<rlimit>?) -> Int32

/// One running worker process: spawned in a process group of its own with close-on-exec pipes (so no
/// worker holds another's pipe open, and killing the group takes the script's own children too), its
/// output read line by line on threads of its own (a blocking read never occupies Swift's small
/// cooperative pool), its input written on a serial queue (a worker that stops reading can't block
/// the executor).
final class ScriptProcess: @unchecked Sendable {
    /// What the process did, in order.
    enum Event: Sendable {
        case stdout(Data)
        case stderr(String)
        /// Its stdout closed (it exited, or closed it).
        case closed
        /// It has exited: the wait status text ("exit 1", "signal 9").
        case exited(String)
    }

    let pid: pid_t
    let events: AsyncStream<Event>
    /// True once the child has been reaped: from then on its pid (and group id) may be another process's —
    /// pid_max is 32768 on a Raspberry Pi — so `kill()` must not signal it.
    private let reaped = Mutex(false)
    private let input: Int32
    private let writes: DispatchQueue
    /// The longest line read; a longer one is cut there (and so is not the protocol).
    static let maximumLine = 8 << 20

    /// Starts `arguments[0]` (looked up on the environment's PATH when it has no slash) in `directory`; `lowPriority`
    /// puts it at a backtest's CPU priority (`LowPriorityThread`'s), so a backtest's script never slows a live minute.
    /// The memory limit and the low priority hold from the script's first instruction (`WorkerLaunch`).
    init(arguments: [String], directory: String, environment: [String: String], memoryLimitBytes: UInt64?, lowPriority: Bool = false) throws {
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        guard pipe2(&stdinPipe, O_CLOEXEC) == 0 else { throw ScriptLaunchError("pipe: \(String(cString: strerror(errno)))") }
        guard pipe2(&stdoutPipe, O_CLOEXEC) == 0 else {
            close(stdinPipe[0]); close(stdinPipe[1])
            throw ScriptLaunchError("pipe: \(String(cString: strerror(errno)))")
        }
        guard pipe2(&stderrPipe, O_CLOEXEC) == 0 else {
            [stdinPipe, stdoutPipe].flatMap { $0 }.forEach { close($0) }
            throw ScriptLaunchError("pipe: \(String(cString: strerror(errno)))")
        }
        defer { [stdinPipe[0], stdoutPipe[1], stderrPipe[1]].forEach { close($0) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        _ = spawnAddChdir(&actions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (killed as one); default signal handling (the executor ignores SIGPIPE).
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let launch: WorkerLaunch
        do {
            launch = try WorkerLaunch(arguments: arguments, directory: directory, path: environment["PATH"],
                                      memoryLimitBytes: memoryLimitBytes, lowPriority: lowPriority)
        } catch {
            [stdinPipe[1], stdoutPipe[0], stderrPipe[0]].forEach { close($0) }
            throw error
        }
        let argv = launch.argv.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, launch.executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            [stdinPipe[1], stdoutPipe[0], stderrPipe[0]].forEach { close($0) }
            throw ScriptLaunchError("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        pid = child
        let spawned = child
        if let limit = launch.memoryLimitAfterStart {
            var limit = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
            _ = setLimit(child, Int32(RLIMIT_AS.rawValue), &limit, nil)
        }
        // Born at nice 19 (nice(1)); SCHED_IDLE, where allowed, is lower still.
        if lowPriority { LowPriorityThread.lowerPriority(of: child) }
        input = stdinPipe[1]
        writes = DispatchQueue(label: "script-input-\(child)")
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        events = stream
        let out = stdoutPipe[0], err = stderrPipe[0]
        let group = DispatchGroup()
        group.enter()
        Self.readLines(out, name: "script-out-\(child)") { continuation.yield(.stdout($0)) } done: {
            continuation.yield(.closed)
            group.leave()
        }
        group.enter()
        Self.readLines(err, name: "script-err-\(child)") {
            continuation.yield(.stderr(String(decoding: $0, as: UTF8.self)))
        } done: { group.leave() }
        // Reaps the child once both streams are closed (it exited, or was killed), then ends the events.
        let waiter = Thread {
            group.wait()
            // Waits for the exit without reaping (a zombie keeps its pid, so a kill() meanwhile still reaches
            // only this worker), then reaps and marks it under the lock kill() takes.
            var info = siginfo_t()
            while waitid(P_PID, id_t(spawned), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            var status: Int32 = 0
            self.reaped.withLock { reaped in
                while waitpid(spawned, &status, 0) < 0 && errno == EINTR {}
                reaped = true
            }
            let exited = status & 0x7f == 0
            continuation.yield(.exited(exited ? "exit status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"))
            continuation.finish()
        }
        waiter.name = "script-wait-\(spawned)"
        waiter.start()
    }

    /// Queues bytes for the worker's stdin. A dead worker's pipe fails quietly: its closed stdout says so.
    func write(_ text: String) {
        let fd = input
        writes.async {
            var data = Array(text.utf8)
            var offset = 0
            while offset < data.count {
                let written = data.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
            data.removeAll()
        }
    }

    /// SIGKILL to the whole group (the script and anything it started), unless the worker has been reaped.
    /// Returns whether it signalled.
    @discardableResult
    func kill() -> Bool {
        reaped.withLock { reaped in
            guard !reaped else { return false }
            _ = Glibc.kill(-pid, SIGKILL)
            _ = Glibc.kill(pid, SIGKILL)
            return true
        }
    }

    deinit {
        let fd = input
        writes.async { close(fd) }
    }

    private static func readLines(_ fd: Int32, name: String, line: @escaping @Sendable (Data) -> Void, done: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    line(Data(pending[pending.startIndex..<newline]))
                    pending = Data(pending[(newline + 1)...])
                }
                if pending.count > maximumLine {
                    line(pending.prefix(4096))
                    pending = Data()
                }
            }
            if !pending.isEmpty { line(pending) }
            close(fd)
            done()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// A worker that could not be started.
struct ScriptLaunchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How a worker is exec'd so that its limits hold from its first instruction: posix_spawn can set neither an
/// rlimit nor SCHED_IDLE, and set on the child a moment after the start, a script could already have started a
/// process that escapes them. So util-linux's prlimit(1) sets the memory limit on itself and coreutils' nice(1)
/// its priority, and each execs the next (both are essential Debian packages). Where a tool is missing, the
/// executor sets that limit just after the start instead, as it used to.
struct WorkerLaunch: Equatable {
    /// What posix_spawn runs.
    let executable: String
    let argv: [String]
    /// The memory limit still to set on the child after the start (prlimit(1) is missing).
    let memoryLimitAfterStart: UInt64?

    static let prlimitTool = "/usr/bin/prlimit"
    static let niceTool = "/usr/bin/nice"

    /// `path` is the worker's own PATH (posix_spawn doesn't search one). `available` says whether a tool is
    /// installed; `ownHardLimit` is the executor's own RLIMIT_AS ceiling, which no child may exceed (asking
    /// prlimit(1) for more would fail the start, so a larger `--script-memory-mb` is cut to it).
    init(
        arguments: [String], directory: String, path: String?, memoryLimitBytes: UInt64?, lowPriority: Bool,
        available: (String) -> Bool = { access($0, X_OK) == 0 }, ownHardLimit: UInt64? = WorkerLaunch.ownHardLimit()
    ) throws {
        let program = try Self.resolve(arguments[0], directory: directory, path: path ?? "/usr/local/bin:/usr/bin:/bin", available: available)
        var wrappers: [String] = []
        var afterStart: UInt64?
        if let requested = memoryLimitBytes {
            let limit = min(requested, ownHardLimit ?? requested)
            if available(Self.prlimitTool) { wrappers += [Self.prlimitTool, "--as=\(limit)", "--"] } else { afterStart = limit }
        }
        // nice(1) warns and runs the program anyway where it may not lower the priority.
        if lowPriority && available(Self.niceTool) { wrappers += [Self.niceTool, "-n", "19", "--"] }
        executable = wrappers.first ?? program
        argv = wrappers.isEmpty ? arguments : wrappers + [program] + arguments.dropFirst()
        memoryLimitAfterStart = afterStart
    }

    /// The program's path: a bare name found on `path`, a relative path from `directory` (where it runs).
    /// Checked here, so a program that isn't there is "cannot start", not a wrapper's complaint on stderr.
    static func resolve(_ program: String, directory: String, path: String, available: (String) -> Bool) throws -> String {
        if !program.contains("/") {
            for folder in path.split(separator: ":") where !folder.isEmpty && available("\(folder)/\(program)") {
                return "\(folder)/\(program)"
            }
            throw ScriptLaunchError("cannot start \(program): not found on the worker's PATH (\(path))")
        }
        let absolute = program.hasPrefix("/") ? program : (directory as NSString).appendingPathComponent(program)
        guard available(absolute) else {
            throw ScriptLaunchError("cannot start \(program): \(String(cString: strerror(errno == 0 ? ENOENT : errno)))")
        }
        return absolute
    }

    static func ownHardLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_max != rlim_t.max else { return nil }
        return UInt64(limit.rlim_max)
    }
}
