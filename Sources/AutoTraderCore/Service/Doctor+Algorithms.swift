import Foundation

extension Doctor {
    /// One line for every algorithm the executor published, with its kind and status: warn when one can't run
    /// (a broken script, a name clash) or when no executor has published yet.
    public static func checkAlgorithms(systemPath: String, compiled: AlgorithmCatalog) -> DoctorCheck {
        let entries: [CatalogEntry]
        do {
            guard let published = try SystemDatabase.inspectCatalog(path: systemPath), !published.isEmpty else {
                return DoctorCheck("algorithms", .warn, "the executor has not published its catalog yet (it does when it starts); compiled in: \(compiled.names.joined(separator: ", "))")
            }
            entries = published
        } catch {
            return DoctorCheck("algorithms", .fail, "cannot read system.db at \(systemPath): \(error)")
        }
        let listed = entries.map { entry in
            "\(entry.name) (\(entry.kind.rawValue), \(entry.status.rawValue)\(entry.error.map { ": \($0)" } ?? ""))"
        }
        let broken = entries.filter { $0.status == .error }.count
        let summary = "\(entries.count) algorithms\(broken > 0 ? ", \(broken) can't run" : ""): "
        return DoctorCheck("algorithms", broken > 0 ? .warn : .ok, summary + listed.joined(separator: "; "))
    }
}
