import Foundation
import Testing

/// The layout's promises, checked on the source tree so they can't quietly erode.
@Suite struct HouseRulesTests {
    static let sources = Repository.root.appendingPathComponent("Sources")

    /// Every Swift file under Sources, by path relative to it.
    static func files() throws -> [(path: String, text: String)] {
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        var files: [(String, String)] = []
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            let relative = String(url.path.dropFirst(sources.path.count + 1))
            files.append((relative, try String(contentsOf: url, encoding: .utf8)))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// Each database has one owner: its SQL is in the owner's folder (or the generic file plumbing in Storage/);
    /// services, the api and the CLI call named methods. Benchmarks measure SQLite itself, through an explicit SPI.
    @Test func sqlLivesOnlyWithTheDatabaseThatOwnsIt() throws {
        let owners = ["AutoTraderCore/SystemDatabase/", "AutoTraderCore/StocksDatabase/", "AutoTraderCore/Storage/", "autotrader-bench/"]
        let files = try Self.files()
        #expect(files.count > 50, "the source tree was found")
        let offenders = files.filter { file in
            !owners.contains { file.path.hasPrefix($0) }
                && (file.text.contains("sql:") || file.text.range(of: #"\.pool\b"#, options: .regularExpression) != nil)
        }.map(\.path)
        #expect(offenders.isEmpty, "SQL outside its database's owner: \(offenders)")
    }
}
