import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on a file beside a database, held while
/// a process creates or migrates it.
///
/// SQLite's busy timeout does not cover switching a brand-new file to WAL, so two
/// processes opening a new database at once can fail; serialising create-or-migrate
/// through this lock makes the first open safe. A separate file is locked because
/// closing any descriptor of the database file itself would drop SQLite's own
/// POSIX locks held by this process.
final class FileLock {
    private let descriptor: Int32

    /// Blocks until the lock is held or `timeout` passes.
    init(path: String, timeout: Duration = .seconds(60)) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [
                NSFilePathErrorKey: path,
                NSLocalizedDescriptionKey: "cannot open lock file \(path): \(String(cString: strerror(errno)))",
            ])
        }
        let deadline = ContinuousClock.now + timeout
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                close(descriptor)
                throw AutoTraderError.databaseLockTimeout(path: path)
            }
            usleep(5_000)
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
