import Foundation

/// One script algorithm file found in the algorithm folder.
public struct ScriptFile: Hashable, Sendable {
    /// How the file is run.
    public enum Runner: Hashable, Sendable {
        /// A `.py` file: run by the shipped Python runner (the original design's `class Algorithm`).
        case python
        /// An executable file with a `#!` line: run as it is, speaking the protocol itself.
        case executable
    }

    public let name: String
    public let path: String
    public let runner: Runner
    public let hash: String

    /// The worker's command line.
    public var arguments: [String] {
        switch runner {
        case .python: return PythonRunner.arguments(script: path)
        case .executable: return [path]
        }
    }
}

/// Looks at the algorithm folder: which files are script algorithms, and by what name. A `*.py` file is
/// one, and so is any other file with the exec bit and a `#!` line; the name is the file name without
/// its extension. Everything else (the Swift files, README.md, hidden files, folders) is not.
public enum ScriptFolder {
    /// A file larger than this is not read (an algorithm is source code, not data).
    static let maximumSize = 4 << 20

    /// The script files, unsorted; a missing folder has none.
    public static func scan(_ directory: String) -> [ScriptFile] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { !$0.hasPrefix(".") }.compactMap { file(at: (directory as NSString).appendingPathComponent($0)) }
    }

    /// The script algorithm at `path`, or nil when that file is not one (or is not there): what `scan` finds
    /// there. A backtest the api queued finds its script by the path the executor published.
    public static func file(at path: String) -> ScriptFile? {
        let file = (path as NSString).lastPathComponent
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= maximumSize,
              let data = FileManager.default.contents(atPath: path)
        else { return nil }
        let runner: ScriptFile.Runner
        if file.hasSuffix(".py") {
            runner = .python
        } else if info.st_mode & 0o111 != 0, data.starts(with: Array("#!".utf8)) {
            runner = .executable
        } else {
            return nil
        }
        let name = file.contains(".") ? String(file[..<file.lastIndex(of: ".")!]) : file
        return ScriptFile(name: name, path: path, runner: runner, hash: fnv1a64(data))
    }

    /// FNV-1a 64 as hex: enough to tell a changed file from an unchanged one.
    public static func fnv1a64(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
