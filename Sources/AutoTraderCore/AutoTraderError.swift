import Foundation

/// Every refusal the core can give, each with a message a person can act on.
///
/// Callers (CLI, api) show `description` as it is; the api maps cases to HTTP statuses.
public enum AutoTraderError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownAlgorithm(id: Int64)
    case algorithmAlreadyStopped(id: Int64)
    case algorithmStopped(id: Int64)
    case invalidTicker(String)
    case invalidAlgorithmType(String)
    case invalidCapital(String)
    case invalidShares(Int)
    case invalidPrice(String)
    case insufficientShares(id: Int64, held: Int, requested: Int)
    case holdsShares(id: Int64, ticker: String, shares: Int)
    case noPendingLiquidation(id: Int64)
    case invalidPIN
    case invalidTimestamp(String)
    case outsideCalendar(Timestamp)
    case invalidRange(from: Timestamp, to: Timestamp)
    case invalidBar(String)
    case timeZoneUnavailable(String)
    case databaseLockTimeout(path: String)
    case databaseNewerThanProgram(path: String, version: Int, known: Int)
    case unknownIntent(id: Int64)

    public var description: String {
        switch self {
        case .unknownAlgorithm(let id):
            return "no algorithm with id \(id)"
        case .algorithmAlreadyStopped(let id):
            return "algorithm \(id) is already stopped"
        case .algorithmStopped(let id):
            return "algorithm \(id) is stopped: it takes no new trades (only fills of orders sent before it stopped)"
        case .invalidTicker(let ticker):
            return "invalid ticker \(ticker.debugDescription): use 1–10 upper-case letters or dots starting with a letter, e.g. NVDA or BRK.B"
        case .invalidAlgorithmType(let type):
            return "invalid algorithm type \(type.debugDescription): use the algorithm's file name, e.g. sma_crossover"
        case .invalidCapital(let capital):
            return "invalid capital \(capital): it must be more than 0, at most 1000000000000, with at most two decimals"
        case .invalidShares(let shares):
            return "invalid share count \(shares): it must be a whole number above 0"
        case .invalidPrice(let price):
            return "invalid price \(price): it must be more than 0 and below 1000000000"
        case .insufficientShares(let id, let held, let requested):
            return "algorithm \(id) holds \(held) shares and cannot sell \(requested)"
        case .holdsShares(let id, let ticker, let shares):
            return "algorithm \(id) holds \(shares) shares of \(ticker): sell them first (sell and stop), or stop it keeping them on purpose"
        case .noPendingLiquidation(let id):
            return "algorithm \(id) has no sell-and-stop waiting to be carried out"
        case .invalidPIN:
            return "the PIN must be 6 to 12 digits, not one digit repeated and not a run such as 123456"
        case .invalidTimestamp(let text):
            return "invalid time \(text.debugDescription): use UTC YYYY-MM-DDTHH:MM:SSZ, e.g. 2024-06-04T14:30:00Z"
        case .outsideCalendar(let instant):
            return "\(instant) is outside the market calendar (years \(MarketCalendar.supportedYears.lowerBound)–\(MarketCalendar.supportedYears.upperBound))"
        case .invalidRange(let from, let to):
            return "invalid range: \(from) is not before \(to)"
        case .invalidBar(let reason):
            return "invalid bar: \(reason)"
        case .timeZoneUnavailable(let name):
            return "the time zone \(name) is not installed (install the tzdata package)"
        case .databaseLockTimeout(let path):
            return "timed out waiting for another process to finish creating or migrating \(path)"
        case .databaseNewerThanProgram(let path, let version, let known):
            return "\(path) has schema version \(version) but this program knows only up to \(known): upgrade AutoTrader"
        case .unknownIntent(let id):
            return "no order intent with id \(id)"
        }
    }
}

extension AutoTraderError: LocalizedError {
    public var errorDescription: String? { description }
}
