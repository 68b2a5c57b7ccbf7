import Foundation

/// Reads minute bars from a CSV file (`ticker,timestamp,open,high,low,close,volume`,
/// optionally `trade_count,vwap`), checking every row before anything is written. Files are read as
/// spreadsheets write them (`CSVRecords`: BOM, CRLF, quoted fields).
public struct BarCSVImport: Sendable {
    /// A row that can't be imported, by its line number in the file.
    public struct RowError: Hashable, Sendable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// What a file holds once read: the sound bars, the rows refused, and rows left out on purpose.
    public struct Parsed: Sendable {
        public var bars: [MinuteBar] = []
        public var errors: [RowError] = []
        /// Rows outside regular hours left out because the caller asked to skip them.
        public var skippedOutsideHours = 0
    }

    public static let requiredColumns = ["ticker", "timestamp", "open", "high", "low", "close", "volume"]
    public static let optionalColumns = ["trade_count", "vwap"]

    public let calendar: MarketCalendar
    /// stocks.db holds regular-hours bars only; a row outside them is refused unless this is set.
    public let skipOutsideHours: Bool

    public init(calendar: MarketCalendar, skipOutsideHours: Bool = false) {
        self.calendar = calendar
        self.skipOutsideHours = skipOutsideHours
    }

    public func parse(_ text: String) -> Parsed {
        var parsed = Parsed()
        var columns = Self.requiredColumns
        var seen: [String: Int] = [:] // "TICKER TIME" -> line
        var sawFirstLine = false
        let (records, unclosed) = CSVRecords.parse(text)
        if let unclosed {
            parsed.errors.append(RowError(line: unclosed.line, reason: "a quoted field opened here is never closed"))
            return parsed
        }
        for record in records {
            let lineNumber = record.line
            let fields = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            if !sawFirstLine {
                sawFirstLine = true
                if fields.first?.lowercased() == "ticker" || fields.contains(where: { $0.lowercased() == "timestamp" }) {
                    let header = fields.map { $0.lowercased() }
                    let missing = Self.requiredColumns.filter { !header.contains($0) }
                    let unknown = header.filter { !Self.requiredColumns.contains($0) && !Self.optionalColumns.contains($0) }
                    if !missing.isEmpty || !unknown.isEmpty || Set(header).count != header.count {
                        var reasons: [String] = []
                        if !missing.isEmpty { reasons.append("missing column(s) \(missing.joined(separator: ", "))") }
                        if !unknown.isEmpty {
                            // Named, not echoed: a column name is at most 40 characters here.
                            let names = unknown.prefix(5).map { ($0.count > 40 ? String($0.prefix(40)) + "…" : $0).debugDescription }
                            reasons.append("unknown column(s) \(names.joined(separator: ", "))\(unknown.count > 5 ? " and \(unknown.count - 5) more" : "")")
                        }
                        if Set(header).count != header.count { reasons.append("a column is named twice") }
                        parsed.errors.append(RowError(line: lineNumber, reason: "bad header: " + reasons.joined(separator: "; ")))
                        return parsed
                    }
                    columns = header
                    continue
                }
            }
            guard fields.count == columns.count else {
                parsed.errors.append(RowError(
                    line: lineNumber, reason: "expected \(columns.count) fields (\(columns.joined(separator: ","))), found \(fields.count)"))
                continue
            }
            var row: [String: String] = [:]
            for (name, value) in zip(columns, fields) { row[name] = value }
            switch bar(from: row) {
            case .failure(let reason):
                parsed.errors.append(RowError(line: lineNumber, reason: reason.message))
            case .success(let bar):
                if (try? calendar.isOpen(at: bar.timestamp)) != true {
                    if skipOutsideHours, calendar.coveredRange.contains(bar.timestamp) {
                        parsed.skippedOutsideHours += 1
                        continue
                    }
                    let reason = calendar.coveredRange.contains(bar.timestamp)
                        ? "\(bar.timestamp) is outside regular market hours (stocks.db keeps regular-hours bars; --skip-outside-hours leaves such rows out)"
                        : "\(bar.timestamp) is outside the market calendar (\(MarketCalendar.supportedYears.lowerBound)–\(MarketCalendar.supportedYears.upperBound))"
                    parsed.errors.append(RowError(line: lineNumber, reason: reason))
                    continue
                }
                let key = "\(bar.ticker) \(bar.timestamp.secondsSinceEpoch)"
                if let earlier = seen[key] {
                    parsed.errors.append(RowError(
                        line: lineNumber, reason: "repeats \(bar.ticker) \(bar.timestamp) of line \(earlier)"))
                    continue
                }
                seen[key] = lineNumber
                parsed.bars.append(bar)
            }
        }
        return parsed
    }

    struct Reason: Error { let message: String }

    private func bar(from row: [String: String]) -> Result<MinuteBar, Reason> {
        let ticker = row["ticker"] ?? ""
        guard Validation.isValidTicker(ticker) else {
            return .failure(Reason(message: "invalid ticker \(ticker.debugDescription) (1–10 upper-case letters or dots)"))
        }
        let timeText = row["timestamp"] ?? ""
        guard let time = Timestamp(timeText) else {
            return .failure(Reason(message: "invalid timestamp \(timeText.debugDescription) (use UTC YYYY-MM-DDTHH:MM:00Z)"))
        }
        guard time.isWholeMinute else { return .failure(Reason(message: "timestamp \(timeText) is not the start of a minute")) }
        var prices: [String: Double] = [:]
        for name in ["open", "high", "low", "close"] {
            let text = row[name] ?? ""
            guard let value = Double(text), value.isFinite, value > 0, Money.parse(text) != nil else {
                return .failure(Reason(message: "\(name) \(text.debugDescription) is not a positive decimal number"))
            }
            prices[name] = value
        }
        let volumeText = row["volume"] ?? ""
        guard let volume = Int64(volumeText), volume >= 0 else {
            return .failure(Reason(message: "volume \(volumeText.debugDescription) is not a whole number ≥ 0"))
        }
        var tradeCount: Int64?
        if let text = row["trade_count"], !text.isEmpty {
            guard let value = Int64(text), value >= 0 else {
                return .failure(Reason(message: "trade_count \(text.debugDescription) is not a whole number ≥ 0"))
            }
            tradeCount = value
        }
        var vwap: Double?
        if let text = row["vwap"], !text.isEmpty {
            guard let value = Double(text), value.isFinite, value > 0, Money.parse(text) != nil else {
                return .failure(Reason(message: "vwap \(text.debugDescription) is not a positive decimal number"))
            }
            vwap = value
        }
        let bar = MinuteBar(
            ticker: ticker, timestamp: time, open: prices["open"]!, high: prices["high"]!, low: prices["low"]!,
            close: prices["close"]!, volume: volume, tradeCount: tradeCount, vwap: vwap)
        if let problem = bar.problem { return .failure(Reason(message: problem)) }
        return .success(bar)
    }
}
