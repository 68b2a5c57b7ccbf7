import Foundation
import GRDB

// What a card is made of in system.db: the algorithm, its position and whether it is being sold off,
// each read in one snapshot so a card never mixes two moments.
extension SystemDatabase {
    public func cardState(id: Int64) throws -> (algorithm: AlgorithmInstance, position: Position, stopping: Bool) {
        try pool.read { db in
            (try Self.fetchAlgorithm(db, id: id), try position(db, algorithmId: id), try Self.stoppingAlgorithmIDs(db).contains(id))
        }
    }

    /// The algorithms with a status (all with nil), oldest first, with their positions and the ids being sold off.
    public func cardStates(status: AlgorithmStatus?) throws -> (rows: [(AlgorithmInstance, Position)], stopping: Set<Int64>) {
        try pool.read { db in (try algorithmsWithPositions(db, status: status), try Self.stoppingAlgorithmIDs(db)) }
    }

    /// Algorithms with their positions, read in one snapshot so a card never mixes two moments.
    func algorithmsWithPositions(_ db: Database, status: AlgorithmStatus?) throws -> [(AlgorithmInstance, Position)] {
        try Self.fetchAlgorithms(db, status: status).map { algorithm in
            (algorithm, try position(db, algorithmId: algorithm.id))
        }
    }
}
