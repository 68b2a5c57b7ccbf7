import Foundation
import PackagePlugin

/// Generates `AlgorithmRegistry.swift` for the `algorithm/` target from its file names, so adding
/// an algorithm is adding one file: there is no list anyone edits by hand.
@main
struct AlgorithmRegistryPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target.sourceModule else { return [] }
        let sources = module.sourceFiles(withSuffix: "swift").map(\.url)
        let output = context.pluginWorkDirectoryURL.appending(path: "AlgorithmRegistry.swift")
        return [
            .buildCommand(
                displayName: "Generating the algorithm registry from \(sources.count) files",
                executable: try context.tool(named: "algorithm-registry-generator").url,
                arguments: [output.path()] + sources.map { $0.path() },
                inputFiles: sources,
                outputFiles: [output])
        ]
    }
}
