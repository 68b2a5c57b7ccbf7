import Foundation

/// The script-algorithm protocol, version 1 (documented in algorithm/README.md): one JSON object per
/// line, requests on the worker's stdin, answers on its stdout, matched by `id`. Money crosses as
/// decimal strings, times as UTC `YYYY-MM-DDTHH:MM:SSZ`.
public enum ScriptProtocol {
    public static let version = 1

    /// `{"v":1,"type":"describe","id":N}`: the worker answers `summary` and `bars_needed`.
    static func describeRequest(id: Int64) -> String {
        "{\"v\":\(version),\"type\":\"describe\",\"id\":\(id)}\n"
    }

    /// `{"v":1,"type":"decide","id":N,"card":{…},"minute":…,"bars":[…],"transactions":[…]}`, written by hand:
    /// a minute of 100 cards is megabytes of bars, and this is the executor's hot path.
    static func decideRequest(id: Int64, card: Int64, input: AlgorithmInput) -> String {
        var text = "{\"v\":\(version),\"type\":\"decide\",\"id\":\(id),\"card\":{\"id\":\(card),\"ticker\":"
        text.reserveCapacity(256 + input.bars.count * 110 + input.transactions.count * 120)
        JSONText.appendQuoted(input.ticker, to: &text)
        text += ",\"initial_capital\":\"\(input.initialCapital.plainString)\"},\"minute\":\"\(input.now.text)\",\"bars\":["
        for (index, bar) in input.bars.enumerated() {
            if index > 0 { text += "," }
            text += "{\"time\":\"\(bar.timestamp.text)\",\"open\":\"\(price(bar.open))\",\"high\":\"\(price(bar.high))\""
            text += ",\"low\":\"\(price(bar.low))\",\"close\":\"\(price(bar.close))\",\"volume\":\(bar.volume)}"
        }
        text += "],\"transactions\":["
        for (index, trade) in input.transactions.enumerated() {
            if index > 0 { text += "," }
            text += "{\"id\":\(trade.id),\"algorithm_id\":\(trade.algorithmId),\"type\":\"\(trade.side.rawValue)\""
            text += ",\"shares\":\(trade.shares),\"price\":\"\(trade.price.plainString)\",\"timestamp\":\"\(trade.timestamp.text)\"}"
        }
        text += "]}\n"
        return text
    }

    /// A stored price as an exact decimal string (micro-dollars at most), without Decimal's cost per bar.
    static func price(_ value: Double) -> String {
        let micros = Int64((value * 1_000_000).rounded())
        let negative = micros < 0
        let magnitude = negative ? -micros : micros
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let whole = "\(negative ? "-" : "")\(magnitude / 1_000_000)"
        return fraction.isEmpty ? whole : whole + "." + fraction
    }
}

/// One line a worker printed, as far as the protocol goes: anything that isn't a JSON object with an
/// integer `id` is not the protocol (the worker is restarted); the fields are checked later, per request.
struct ScriptAnswer: Sendable {
    let id: Int64
    let version: Int?
    let error: String?
    let summary: String?
    let barsNeeded: Double?
    let action: String?
    /// Shares as the worker wrote them: a number, or the text of whatever else it was.
    let shares: Shares
    let reason: String?

    enum Shares: Sendable, Equatable {
        case missing
        case number(Double)
        case other(String)
    }

    /// Nil when the line is not the protocol.
    init?(line: Data) {
        guard let fields = try? JSONDecoder().decode([String: JSONScalar].self, from: line),
              case .number(let number)? = fields["id"], number.rounded() == number, abs(number) < 9e15
        else { return nil }
        id = Int64(number)
        if case .number(let v)? = fields["v"], v.rounded() == v, abs(v) < 1e9 { version = Int(v) } else { version = nil }
        error = fields["error"]?.text
        if case .string(let text)? = fields["summary"] { summary = text } else { summary = nil }
        if case .number(let bars)? = fields["bars_needed"] { barsNeeded = bars } else { barsNeeded = nil }
        action = fields["action"]?.text
        switch fields["shares"] {
        case nil, .null?: shares = .missing
        case .number(let value)?: shares = .number(value)
        case let other?: shares = .other(other.text ?? "?")
        }
        reason = fields["reason"]?.text
    }
}

/// A JSON value as far as the protocol looks at it: scalars, and "something else" for arrays and objects.
enum JSONScalar: Decodable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case compound

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else { self = .compound }
    }

    /// The value as text for messages (nil for null).
    var text: String? {
        switch self {
        case .null: return nil
        case .bool(let value): return String(value)
        case .number(let value): return value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .string(let value): return value
        case .compound: return "an array or object"
        }
    }
}

/// What a worker's answer to `decide` comes to: a decision the guards will check, or why it is none.
enum ScriptVerdict {
    static let maximumShares = 1_000_000_000

    static func decision(from answer: ScriptAnswer) -> Result<AlgorithmDecision, ScriptAnswerProblem> {
        if let error = answer.error { return .failure(.init("the script reported an error: \(clip(error))")) }
        guard let action = answer.action?.lowercased() else {
            return .failure(.init("the answer has no action (expected buy, sell or hold)"))
        }
        let reason = answer.reason.map { clip($0) }.flatMap { $0.isEmpty ? nil : $0 }
        switch action {
        case "hold":
            return .success(.hold(reason ?? "the script holds"))
        case "buy", "sell":
            let count: Int
            switch answer.shares {
            case .missing:
                return .failure(.init("\(action) without a share count"))
            case .other(let text):
                return .failure(.init("\(action) \(clip(text)): shares must be a whole number"))
            case .number(let value):
                guard value.isFinite, value.rounded() == value else {
                    return .failure(.init("\(action) \(value): shares must be a whole number"))
                }
                guard value >= 0 else { return .failure(.init("\(action) \(Int64(value)): shares can't be negative")) }
                guard value <= Double(maximumShares) else {
                    return .failure(.init("\(action) \(value): more than \(maximumShares) shares"))
                }
                count = Int(value)
            }
            let why = reason ?? "the script answered \(action) \(count)"
            return .success(action == "buy" ? .buy(count, why) : .sell(count, why))
        default:
            return .failure(.init("unknown action \(clip(action).debugDescription) (expected buy, sell or hold)"))
        }
    }

    static func clip(_ text: String, to limit: Int = 300) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }
}

/// Why a worker's answer is not a decision, in words for the decision log.
public struct ScriptAnswerProblem: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
