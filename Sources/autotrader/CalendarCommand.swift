import ArgumentParser
import AutoTraderCore
import Foundation

struct CalendarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar", abstract: "The NYSE regular-hours calendar (2018–2030), in UTC.",
        subcommands: [IsOpen.self, Sessions.self])

    struct IsOpen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "is-open", abstract: "Say whether the market is open at a time (default: now): prints open or closed.")

        @Argument(help: "A UTC time, YYYY-MM-DDTHH:MM:SSZ.")
        var time: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let calendar = try MarketCalendar()
            let instant: Timestamp
            if let time {
                guard let parsed = Timestamp(time) else { throw ValidationError(AutoTraderError.invalidTimestamp(time).description) }
                instant = parsed
            } else {
                instant = .now()
            }
            let open = try failing { try calendar.isOpen(at: instant) }
            let session = calendar.session(containing: instant)
            if json {
                struct Answer: Encodable {
                    let time: Timestamp
                    let open: Bool
                    let session: MarketSession?
                }
                return try printJSON(Answer(time: instant, open: open, session: session))
            }
            if let session {
                print("open (session \(session.date) \(session.open) – \(session.close))")
            } else {
                let next = try? calendar.nextMarketMinute(after: instant)
                print("closed" + (next.map { " (next open \($0))" } ?? ""))
            }
        }
    }

    struct Sessions: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the sessions from one New York date to another, one line each: DATE OPEN_UTC CLOSE_UTC.")

        @Argument(help: "First date, YYYY-MM-DD.")
        var from: String

        @Argument(help: "Last date (included), YYYY-MM-DD.")
        var to: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            guard let first = CivilDate(from) else { throw ValidationError("invalid date \(from.debugDescription): use YYYY-MM-DD") }
            guard let last = CivilDate(to) else { throw ValidationError("invalid date \(to.debugDescription): use YYYY-MM-DD") }
            guard first <= last else { throw ValidationError("\(from) is after \(to)") }
            let years = MarketCalendar.supportedYears
            guard years.contains(first.year), years.contains(last.year) else {
                throw ValidationError("the calendar covers \(years.lowerBound)-01-01 to \(years.upperBound)-12-31")
            }
            let sessions = try MarketCalendar().sessions(from: first, through: last)
            if json { return try printJSON(sessions) }
            for session in sessions { print("\(session.date) \(session.open) \(session.close)") }
        }
    }
}
