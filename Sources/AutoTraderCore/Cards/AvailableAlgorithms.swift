import Foundation

/// The algorithms the api and the CLI offer for new cards: the catalog the executor published in system.db
/// (its compiled Swift algorithms and the scripts of the algorithm folder, each with its status), with this
/// build's compiled algorithms standing in until an executor has published. Nothing here runs an algorithm.
public enum AvailableAlgorithms {
    /// Every algorithm with its status, by name then kind.
    public static func list(system: SystemDatabase, compiled: AlgorithmCatalog) throws -> [CatalogEntry] {
        var entries = try system.catalog()
        for algorithm in compiled.entries where !entries.contains(where: { $0.name == algorithm.name && $0.kind == .swift }) {
            entries.append(CatalogEntry(
                name: algorithm.name, kind: .swift, summary: algorithm.summary, barsNeeded: algorithm.barsNeeded, status: .ok))
        }
        return entries.sorted { ($0.name, $0.kind.rawValue) < ($1.name, $1.kind.rawValue) }
    }

    /// The names a card may be created for: those with a row whose status is ok (a Swift algorithm stays ok
    /// when a script clashes with its name: the script is what doesn't run).
    public static func creatable(_ entries: [CatalogEntry]) -> [String] {
        Array(Set(entries.filter { $0.status == .ok }.map(\.name))).sorted()
    }
}
