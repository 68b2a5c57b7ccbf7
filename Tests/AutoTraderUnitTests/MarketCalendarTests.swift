// Tests of the NYSE regular-hours calendar (MarketCalendar, stocks.db's market_sessions /
// market_minutes) and of Timestamp / CivilDate, against dates looked up in published sources —
// never against dates derived from the code under test.
//
// Sources:
// - NYSE Group's own yearly holiday and early-closing announcements (press releases, reproduced at):
//     2018–2020: http://www.paulmaior.ro/2018/09/stock-market-and-bank-holidays-for-2018-2019-and-2020/
//     2020–2022: https://mondovisione.com/media-and-resources/news/nyse-group-announces-2020-2021-and-2022-holiday-and-early-closings-calendar/
//     2021–2023: https://mondovisione.com/media-and-resources/news/nyse-group-announces-2021-2022-and-2023-holiday-and-early-closings-calendar/
//     2022–2024: https://mondovisione.com/media-and-resources/news/nyse-group-announces-2022-2023-and-2024-holiday-and-early-closings-calendar/
//     2025–2027: https://mondovisione.com/media-and-resources/news/nyse-group-announces-2025-2026-and-2027-holiday-and-early-closings-calendar/
//     2026–2028: https://mondovisione.com/media-and-resources/news/nyse-group-announces-2026-2027-and-2028-holiday-and-early-closings-calendar-20251223/
//     (2028: "Because the holiday falls on Saturday, January 1, 2028, no New Year's Day holiday is observed";
//      2022: "No holiday observed, pursuant to NYSE Rule 7.2".)
//   Christmas Eve 2024/2025 early closes: https://theafricalogistics.com/money/stock-markets-close-early-for-christmas-eve-full-holiday-schedule
//   and https://www.ndtvprofit.com/markets/us-stock-market-holiday-2025-are-us-stock-exchanges-open-or-closed-on-december-25-for-christmas
//   (quoting NYSE: "close early at 1:00 p.m. ... on Wednesday, Dec. 24, 2025").
// - Every full-day NYSE holiday 2018–2030 (including 2029 and 2030, which NYSE has not announced yet):
//     github.com/vacanza/holidays, snapshots/financial/XNYS.json (commit 18e67d36e9a0a125d3d8eb85a9a5735dd99e02e1);
//     it agrees with the NYSE announcements above for 2018–2028, including 2018-12-05 and 2025-01-09.
//   One-off closures: github.com/gerrymanoim/exchange_calendars tests/test_xnys_calendar.py
//     ("2018-12-05  # George H.W. - 12/5/2018", "2025-01-09  # Jimmy Carter"); Juneteenth 2022-06-20 /
//     2023-06-19 / 2024-06-19 listed there too, and github.com/rsheftel/pandas_market_calendars
//     tests/test_nyse_calendar.py (test_juneteenth: 2021-06-18 a trading day, 2022-06-20 closed).
// - Every session 2018-01-02 … 2022-11-30 with its open and close in UTC:
//     github.com/AlpacaTechJP/trading_calendars, tests/resources/xnys.csv (commit 149f130b9d8bce3f569d72712e16847d59b717c7;
//     a zipline/exchange_calendars fork; it writes the open as the end of the first minute, 13:31/14:31).
//     Session counts read from it: 2018 = 251, 2019 = 252, 2020 = 253, 2021 = 252, 2022-01-03…2022-11-30 = 230;
//     the daylight-saving switch sessions and early-close UTC times below are copied from it.
// - 2029–2030 early closes (not yet announced by NYSE) follow the published rules in
//     github.com/rsheftel/pandas_market_calendars pandas_market_calendars/holidays_nyse.py:
//     July 3 on Mon/Tue/Thu (MonTuesThursBeforeIndependenceDay) or Wed (WednesdayBeforeIndependenceDayPost2013),
//     the day after Thanksgiving (USBlackFridayInOrAfter1993), December 24 on Mon–Thu (ChristmasEveInOrAfter1993).
// - US daylight saving (Energy Policy Act of 2005): second Sunday of March to first Sunday of November.

import Foundation
import Testing
@testable import AutoTraderCore

// MARK: - Published data

/// Full-day closures on weekdays, by year (NYSE announcements; vacanza/holidays XNYS.json for 2029–2030).
private let publishedHolidays: [Int: [String]] = [
    2018: ["2018-01-01", "2018-01-15", "2018-02-19", "2018-03-30", "2018-05-28", "2018-07-04", "2018-09-03",
           "2018-11-22", "2018-12-05", "2018-12-25"],
    2019: ["2019-01-01", "2019-01-21", "2019-02-18", "2019-04-19", "2019-05-27", "2019-07-04", "2019-09-02",
           "2019-11-28", "2019-12-25"],
    2020: ["2020-01-01", "2020-01-20", "2020-02-17", "2020-04-10", "2020-05-25", "2020-07-03", "2020-09-07",
           "2020-11-26", "2020-12-25"],
    2021: ["2021-01-01", "2021-01-18", "2021-02-15", "2021-04-02", "2021-05-31", "2021-07-05", "2021-09-06",
           "2021-11-25", "2021-12-24"],
    2022: ["2022-01-17", "2022-02-21", "2022-04-15", "2022-05-30", "2022-06-20", "2022-07-04", "2022-09-05",
           "2022-11-24", "2022-12-26"],
    2023: ["2023-01-02", "2023-01-16", "2023-02-20", "2023-04-07", "2023-05-29", "2023-06-19", "2023-07-04",
           "2023-09-04", "2023-11-23", "2023-12-25"],
    2024: ["2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04",
           "2024-09-02", "2024-11-28", "2024-12-25"],
    2025: ["2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19",
           "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25"],
    2026: ["2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03",
           "2026-09-07", "2026-11-26", "2026-12-25"],
    2027: ["2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18", "2027-07-05",
           "2027-09-06", "2027-11-25", "2027-12-24"],
    2028: ["2028-01-17", "2028-02-21", "2028-04-14", "2028-05-29", "2028-06-19", "2028-07-04", "2028-09-04",
           "2028-11-23", "2028-12-25"],
    2029: ["2029-01-01", "2029-01-15", "2029-02-19", "2029-03-30", "2029-05-28", "2029-06-19", "2029-07-04",
           "2029-09-03", "2029-11-22", "2029-12-25"],
    2030: ["2030-01-01", "2030-01-21", "2030-02-18", "2030-04-19", "2030-05-27", "2030-06-19", "2030-07-04",
           "2030-09-02", "2030-11-28", "2030-12-25"],
]

/// 13:00 New York closes, by year (NYSE announcements; 2029–2030 by the published rules).
private let publishedEarlyCloses: [Int: [String]] = [
    2018: ["2018-07-03", "2018-11-23", "2018-12-24"],
    2019: ["2019-07-03", "2019-11-29", "2019-12-24"],
    2020: ["2020-11-27", "2020-12-24"],
    2021: ["2021-11-26"],
    2022: ["2022-11-25"],
    2023: ["2023-07-03", "2023-11-24"],
    2024: ["2024-07-03", "2024-11-29", "2024-12-24"],
    2025: ["2025-07-03", "2025-11-28", "2025-12-24"],
    2026: ["2026-11-27", "2026-12-24"],
    2027: ["2027-11-26"],
    2028: ["2028-07-03", "2028-11-24"],
    2029: ["2029-07-03", "2029-11-23", "2029-12-24"],
    2030: ["2030-07-03", "2030-11-29", "2030-12-24"],
]

/// Sessions per year. 2018–2021 counted in xnys.csv; the rest are weekdays minus the published holidays
/// (checked against that arithmetic in `sessionCountsPerYear`).
private let publishedSessionCounts: [Int: Int] = [
    2018: 251, 2019: 252, 2020: 253, 2021: 252, 2022: 251, 2023: 250, 2024: 252,
    2025: 250, 2026: 251, 2027: 251, 2028: 251, 2029: 251, 2030: 251,
]

/// Sessions on either side of each daylight-saving switch, with open and close in UTC
/// (2018–2022 from xnys.csv, opens moved back from its 13:31/14:31 to 13:30/14:30; 2025 and 2030 by the US DST rule).
private let publishedSwitchSessions: [(date: String, open: String, close: String)] = [
    ("2018-03-09", "2018-03-09T14:30:00Z", "2018-03-09T21:00:00Z"),
    ("2018-03-12", "2018-03-12T13:30:00Z", "2018-03-12T20:00:00Z"),
    ("2018-11-02", "2018-11-02T13:30:00Z", "2018-11-02T20:00:00Z"),
    ("2018-11-05", "2018-11-05T14:30:00Z", "2018-11-05T21:00:00Z"),
    ("2019-03-08", "2019-03-08T14:30:00Z", "2019-03-08T21:00:00Z"),
    ("2019-03-11", "2019-03-11T13:30:00Z", "2019-03-11T20:00:00Z"),
    ("2019-11-01", "2019-11-01T13:30:00Z", "2019-11-01T20:00:00Z"),
    ("2019-11-04", "2019-11-04T14:30:00Z", "2019-11-04T21:00:00Z"),
    ("2020-03-06", "2020-03-06T14:30:00Z", "2020-03-06T21:00:00Z"),
    ("2020-03-09", "2020-03-09T13:30:00Z", "2020-03-09T20:00:00Z"),
    ("2020-10-30", "2020-10-30T13:30:00Z", "2020-10-30T20:00:00Z"),
    ("2020-11-02", "2020-11-02T14:30:00Z", "2020-11-02T21:00:00Z"),
    ("2021-03-12", "2021-03-12T14:30:00Z", "2021-03-12T21:00:00Z"),
    ("2021-03-15", "2021-03-15T13:30:00Z", "2021-03-15T20:00:00Z"),
    ("2021-11-05", "2021-11-05T13:30:00Z", "2021-11-05T20:00:00Z"),
    ("2021-11-08", "2021-11-08T14:30:00Z", "2021-11-08T21:00:00Z"),
    ("2022-03-11", "2022-03-11T14:30:00Z", "2022-03-11T21:00:00Z"),
    ("2022-03-14", "2022-03-14T13:30:00Z", "2022-03-14T20:00:00Z"),
    ("2022-11-04", "2022-11-04T13:30:00Z", "2022-11-04T20:00:00Z"),
    ("2022-11-07", "2022-11-07T14:30:00Z", "2022-11-07T21:00:00Z"),
    ("2025-03-07", "2025-03-07T14:30:00Z", "2025-03-07T21:00:00Z"),
    ("2025-03-10", "2025-03-10T13:30:00Z", "2025-03-10T20:00:00Z"),
    ("2025-10-31", "2025-10-31T13:30:00Z", "2025-10-31T20:00:00Z"),
    ("2025-11-03", "2025-11-03T14:30:00Z", "2025-11-03T21:00:00Z"),
    ("2030-03-08", "2030-03-08T14:30:00Z", "2030-03-08T21:00:00Z"),
    ("2030-03-11", "2030-03-11T13:30:00Z", "2030-03-11T20:00:00Z"),
    ("2030-11-01", "2030-11-01T13:30:00Z", "2030-11-01T20:00:00Z"),
    ("2030-11-04", "2030-11-04T14:30:00Z", "2030-11-04T21:00:00Z"),
]

/// Early closes with their UTC close (xnys.csv for 2018–2022): 17:00Z under EDT, 18:00Z under EST.
private let publishedEarlyCloseTimes: [(date: String, open: String, close: String)] = [
    ("2018-07-03", "2018-07-03T13:30:00Z", "2018-07-03T17:00:00Z"),
    ("2018-11-23", "2018-11-23T14:30:00Z", "2018-11-23T18:00:00Z"),
    ("2018-12-24", "2018-12-24T14:30:00Z", "2018-12-24T18:00:00Z"),
    ("2019-07-03", "2019-07-03T13:30:00Z", "2019-07-03T17:00:00Z"),
    ("2019-11-29", "2019-11-29T14:30:00Z", "2019-11-29T18:00:00Z"),
    ("2019-12-24", "2019-12-24T14:30:00Z", "2019-12-24T18:00:00Z"),
    ("2020-11-27", "2020-11-27T14:30:00Z", "2020-11-27T18:00:00Z"),
    ("2020-12-24", "2020-12-24T14:30:00Z", "2020-12-24T18:00:00Z"),
    ("2021-11-26", "2021-11-26T14:30:00Z", "2021-11-26T18:00:00Z"),
    ("2022-11-25", "2022-11-25T14:30:00Z", "2022-11-25T18:00:00Z"),
    ("2024-07-03", "2024-07-03T13:30:00Z", "2024-07-03T17:00:00Z"),
    ("2025-12-24", "2025-12-24T14:30:00Z", "2025-12-24T18:00:00Z"),
    ("2030-07-03", "2030-07-03T13:30:00Z", "2030-07-03T17:00:00Z"),
]

// MARK: - Helpers (named to stay clear of other test files' helpers)

private func mcUTC(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Timestamp {
    guard let value = Timestamp(text) else {
        Issue.record("not a timestamp: \(text)", sourceLocation: sourceLocation)
        return Timestamp(secondsSinceEpoch: 0)
    }
    return value
}

private func mcDay(_ text: String) -> CivilDate { CivilDate(text)! }

/// Every day of a year as "YYYY-MM-DD" with its Foundation weekday (1 = Sunday), computed with
/// Foundation's Gregorian calendar so the expected side does not lean on CivilDate.
private func foundationDays(of year: Int) -> [(text: String, weekday: Int)] {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    var date = calendar.date(from: DateComponents(year: year, month: 1, day: 1))!
    var result: [(String, Int)] = []
    while calendar.component(.year, from: date) == year {
        let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
        result.append((String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!), parts.weekday!))
        date = calendar.date(byAdding: .day, value: 1, to: date)!
    }
    return result
}

/// The n-th Sunday of a month, by Foundation (for the US daylight-saving dates).
private func foundationNthSunday(_ n: Int, month: Int, year: Int) -> String {
    foundationDays(of: year).filter { $0.text.hasPrefix(String(format: "%04d-%02d", year, month)) && $0.weekday == 1 }[n - 1].text
}

/// SplitMix64: a fixed-seed generator so the sampled instants are the same on every run.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func expectOutsideCalendar(
    _ instant: Timestamp, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected outsideCalendar for \(instant)", sourceLocation: sourceLocation)
    } catch let error as AutoTraderError {
        #expect(error == .outsideCalendar(instant), sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - Tests

@Suite struct MarketCalendarTests {
    // 1. Holidays and early closes per year.

    @Test(arguments: Array(2018...2030))
    func holidaysAndEarlyClosesMatchPublishedLists(year: Int) throws {
        let calendar = try MarketCalendar()
        let expectedHolidays = Set(publishedHolidays[year]!)
        let expectedEarly = Set(publishedEarlyCloses[year]!)

        // What the rules say…
        #expect(Set(calendar.holidays(in: year).keys.map(\.text)) == expectedHolidays)
        #expect(Set(calendar.earlyCloses(in: year).map(\.text)) == expectedEarly)

        // …and what the sessions actually are: the weekdays without a session are exactly the
        // published holidays, and the short sessions exactly the published early closes.
        var closedWeekdays: Set<String> = []
        var shortSessions: Set<String> = []
        for (text, weekday) in foundationDays(of: year) {
            let session = calendar.session(on: mcDay(text))
            if weekday == 1 || weekday == 7 {
                #expect(session == nil, "weekend \(text) has a session")
                continue
            }
            guard let session else { closedWeekdays.insert(text); continue }
            #expect(session.date.text == text)
            if session.isEarlyClose { shortSessions.insert(text) }
            #expect(session.minuteCount == (session.isEarlyClose ? 210 : 390), "\(text)")
        }
        #expect(closedWeekdays == expectedHolidays)
        #expect(shortSessions == expectedEarly)
    }

    @Test func specialCasesOfObservance() throws {
        let calendar = try MarketCalendar()
        func isSession(_ text: String) -> Bool { calendar.session(on: mcDay(text)) != nil }
        // One-off closures.
        #expect(!isSession("2018-12-05"))
        #expect(!isSession("2025-01-09"))
        #expect(isSession("2018-12-04") && isSession("2018-12-06"))
        #expect(isSession("2025-01-08") && isSession("2025-01-10"))
        // Juneteenth: a holiday from 2022, not in 2021 (June 18, 2021, a Friday, traded).
        #expect(isSession("2021-06-18") && isSession("2021-06-21"))
        #expect(!isSession("2022-06-20") && !isSession("2023-06-19") && !isSession("2024-06-19"))
        #expect(!isSession("2027-06-18")) // Saturday the 19th observed on Friday
        // New Year's Day on a Saturday is not observed: the Friday before trades a full session.
        let nye2021 = try #require(calendar.session(on: mcDay("2021-12-31")))
        #expect(!nye2021.isEarlyClose)
        let nye2027 = try #require(calendar.session(on: mcDay("2027-12-31")))
        #expect(!nye2027.isEarlyClose)
        #expect(isSession("2022-01-03") && isSession("2028-01-03"))
        // Saturday holidays observed on Friday, Sunday holidays on Monday.
        #expect(!isSession("2020-07-03") && !isSession("2021-07-05") && !isSession("2026-07-03"))
        #expect(!isSession("2021-12-24") && !isSession("2022-12-26") && !isSession("2027-12-24"))
        #expect(!isSession("2023-01-02"))
        // No early close on July 2 / December 23 when the holiday itself moves to Friday.
        #expect(calendar.session(on: mcDay("2020-07-02"))?.isEarlyClose == false)
        #expect(calendar.session(on: mcDay("2021-12-23"))?.isEarlyClose == false)
        #expect(calendar.session(on: mcDay("2026-07-02"))?.isEarlyClose == false)
        // The special closures carry a name.
        #expect(calendar.holidays(in: 2018)[mcDay("2018-12-05")] != nil)
        #expect(calendar.holidays(in: 2025)[mcDay("2025-01-09")] != nil)
    }

    // 2. Session counts.

    @Test func sessionCountsPerYear() throws {
        let calendar = try MarketCalendar()
        var total = 0
        var totalMinutes = 0
        for year in 2018...2030 {
            let sessions = calendar.sessions(from: mcDay("\(year)-01-01"), through: mcDay("\(year)-12-31"))
            let weekdays = foundationDays(of: year).filter { $0.weekday != 1 && $0.weekday != 7 }.count
            // The test's own table is consistent with the published holiday lists…
            #expect(publishedSessionCounts[year]! == weekdays - publishedHolidays[year]!.count, "\(year)")
            // …and the calendar has that many sessions.
            #expect(sessions.count == publishedSessionCounts[year]!, "\(year)")
            total += sessions.count
            totalMinutes += sessions.reduce(0) { $0 + $1.minuteCount }
        }
        // xnys.csv: 230 sessions from 2022-01-03 through 2022-11-30.
        #expect(calendar.sessions(from: mcDay("2022-01-03"), through: mcDay("2022-11-30")).count == 230)
        #expect(total == 3266)
        // 3266 sessions × 390 minutes, less 180 minutes for each of the 29 published early closes.
        let earlyCount = publishedEarlyCloses.values.reduce(0) { $0 + $1.count }
        #expect(earlyCount == 29)
        #expect(totalMinutes == 3266 * 390 - earlyCount * 180)
        #expect(totalMinutes == 1_268_520)
        let all = calendar.allSessions()
        #expect(all.count == 3266)
        #expect(all.first?.date.text == "2018-01-02")
        #expect(all.last?.date.text == "2030-12-31")
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.date < $1.date && $0.close < $1.open })
    }

    // 3. Open and close in UTC across daylight saving.

    @Test func openAndCloseInUTCAcrossDaylightSaving() throws {
        let calendar = try MarketCalendar()
        for (date, open, close) in publishedSwitchSessions + publishedEarlyCloseTimes {
            let session = try #require(calendar.session(on: mcDay(date)), "no session on \(date)")
            #expect(session.open == mcUTC(open), "\(date) open")
            #expect(session.close == mcUTC(close), "\(date) close")
        }
        // Every session of every year: 09:30–16:00 (13:00) New York, i.e. 13:30Z/20:00Z (17:00Z) between the
        // second Sunday of March and the first Sunday of November, 14:30Z/21:00Z (18:00Z) otherwise.
        for year in 2018...2030 {
            let summerStart = foundationNthSunday(2, month: 3, year: year)
            let summerEnd = foundationNthSunday(1, month: 11, year: year)
            let early = Set(publishedEarlyCloses[year]!)
            for session in calendar.sessions(from: mcDay("\(year)-01-01"), through: mcDay("\(year)-12-31")) {
                let day = session.date.text
                let summer = day > summerStart && day < summerEnd
                let openHour = summer ? 13 : 14
                let closeHour = (early.contains(day) ? 17 : 20) + (summer ? 0 : 1)
                #expect(session.open == mcUTC("\(day)T\(openHour):30:00Z"), "\(day) open \(session.open)")
                #expect(session.close == mcUTC("\(day)T\(closeHour):00:00Z"), "\(day) close \(session.close)")
            }
        }
    }

    @Test func newYorkDateOfInstants() throws {
        let calendar = try MarketCalendar()
        // 03:59Z is still the previous evening in New York (EDT), 04:00Z is the next day.
        #expect(calendar.newYorkDate(of: mcUTC("2024-06-05T03:59:59Z")).text == "2024-06-04")
        #expect(calendar.newYorkDate(of: mcUTC("2024-06-05T04:00:00Z")).text == "2024-06-05")
        // In winter (EST) the day starts at 05:00Z.
        #expect(calendar.newYorkDate(of: mcUTC("2024-01-05T04:59:59Z")).text == "2024-01-04")
        #expect(calendar.newYorkDate(of: mcUTC("2024-01-05T05:00:00Z")).text == "2024-01-05")
    }

    // 4. isOpen, next and previous market minute.

    @Test func isOpenAtTheEdgesOfSessions() throws {
        let calendar = try MarketCalendar()
        // A regular summer session: 13:30Z–20:00Z.
        #expect(try calendar.isOpen(at: mcUTC("2024-06-04T13:30:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-06-04T13:29:59Z")))
        #expect(try calendar.isOpen(at: mcUTC("2024-06-04T19:59:59Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-06-04T20:00:00Z")))
        // A regular winter session: 14:30Z–21:00Z.
        #expect(try calendar.isOpen(at: mcUTC("2024-01-05T14:30:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-01-05T13:30:00Z")))
        #expect(try calendar.isOpen(at: mcUTC("2024-01-05T20:59:59Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-01-05T21:00:00Z")))
        // An early close (day after Thanksgiving, EST): 14:30Z–18:00Z.
        #expect(try calendar.isOpen(at: mcUTC("2024-11-29T17:59:59Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-11-29T18:00:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-11-29T20:00:00Z")))
        // An early close under EDT: 13:30Z–17:00Z.
        #expect(try calendar.isOpen(at: mcUTC("2024-07-03T16:59:59Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-07-03T17:00:00Z")))
        // Holidays and a weekend, at what would be mid-session.
        #expect(try !calendar.isOpen(at: mcUTC("2024-07-04T15:00:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2025-01-09T15:00:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2018-12-05T15:00:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2022-06-20T15:00:00Z")))
        #expect(try !calendar.isOpen(at: mcUTC("2024-06-08T15:00:00Z")))
        // Juneteenth 2021 was not a holiday; New Year's Eve 2021 (before a Saturday New Year) traded.
        #expect(try calendar.isOpen(at: mcUTC("2021-06-18T15:00:00Z")))
        #expect(try calendar.isOpen(at: mcUTC("2021-12-31T20:59:00Z")))
        // session(containing:) agrees.
        #expect(calendar.session(containing: mcUTC("2024-06-04T13:30:00Z"))?.date.text == "2024-06-04")
        #expect(calendar.session(containing: mcUTC("2024-06-04T20:00:00Z")) == nil)
    }

    @Test(arguments: [
        // Within a session: the next minute; seconds are dropped first.
        ("2024-06-04T14:30:00Z", "2024-06-04T14:31:00Z", "2024-06-04T14:29:00Z"),
        ("2024-06-04T14:30:45Z", "2024-06-04T14:31:00Z", "2024-06-04T14:29:00Z"),
        // At the open: previous is the last minute of the day before.
        ("2024-06-04T13:30:00Z", "2024-06-04T13:31:00Z", "2024-06-03T19:59:00Z"),
        // Last minute before a weekend.
        ("2024-06-07T19:59:00Z", "2024-06-10T13:30:00Z", "2024-06-07T19:58:00Z"),
        // During the weekend.
        ("2024-06-08T12:00:00Z", "2024-06-10T13:30:00Z", "2024-06-07T19:59:00Z"),
        ("2024-06-10T13:30:00Z", "2024-06-10T13:31:00Z", "2024-06-07T19:59:00Z"),
        // Before the open on a weekday, after the close.
        ("2024-06-04T08:00:00Z", "2024-06-04T13:30:00Z", "2024-06-03T19:59:00Z"),
        ("2024-06-04T20:00:00Z", "2024-06-05T13:30:00Z", "2024-06-04T19:59:00Z"),
        // Good Friday 2024-03-29 and Juneteenth 2024-06-19.
        ("2024-03-28T19:59:00Z", "2024-04-01T13:30:00Z", "2024-03-28T19:58:00Z"),
        ("2024-03-29T15:00:00Z", "2024-04-01T13:30:00Z", "2024-03-28T19:59:00Z"),
        ("2024-06-19T15:00:00Z", "2024-06-20T13:30:00Z", "2024-06-18T19:59:00Z"),
        // Thanksgiving, then the early close on Friday, then the weekend.
        ("2024-11-27T20:59:00Z", "2024-11-29T14:30:00Z", "2024-11-27T20:58:00Z"),
        ("2024-11-29T17:59:00Z", "2024-12-02T14:30:00Z", "2024-11-29T17:58:00Z"),
        ("2024-11-29T19:00:00Z", "2024-12-02T14:30:00Z", "2024-11-29T17:59:00Z"),
        ("2024-12-02T14:30:00Z", "2024-12-02T14:31:00Z", "2024-11-29T17:59:00Z"),
        // Christmas Eve early close, Christmas, and the year-end / New Year's Day.
        ("2024-12-24T17:59:00Z", "2024-12-26T14:30:00Z", "2024-12-24T17:58:00Z"),
        ("2024-12-26T14:30:00Z", "2024-12-26T14:31:00Z", "2024-12-24T17:59:00Z"),
        ("2024-12-31T20:59:00Z", "2025-01-02T14:30:00Z", "2024-12-31T20:58:00Z"),
        // July 3 early close under EDT.
        ("2024-07-03T16:59:00Z", "2024-07-05T13:30:00Z", "2024-07-03T16:58:00Z"),
        ("2024-07-05T13:30:00Z", "2024-07-05T13:31:00Z", "2024-07-03T16:59:00Z"),
        // The Carter day of mourning.
        ("2025-01-08T20:59:00Z", "2025-01-10T14:30:00Z", "2025-01-08T20:58:00Z"),
        ("2025-01-10T14:30:00Z", "2025-01-10T14:31:00Z", "2025-01-08T20:59:00Z"),
        // Across the daylight-saving switches (Sunday 2024-03-10 and Sunday 2024-11-03).
        ("2024-03-08T20:59:00Z", "2024-03-11T13:30:00Z", "2024-03-08T20:58:00Z"),
        ("2024-03-11T13:30:00Z", "2024-03-11T13:31:00Z", "2024-03-08T20:59:00Z"),
        ("2024-11-01T19:59:00Z", "2024-11-04T14:30:00Z", "2024-11-01T19:58:00Z"),
        ("2024-11-04T14:30:00Z", "2024-11-04T14:31:00Z", "2024-11-01T19:59:00Z"),
        // New Year's Day 2022 on a Saturday: 2021-12-31 trades, 2021-12-24 does not.
        ("2021-12-23T20:59:00Z", "2021-12-27T14:30:00Z", "2021-12-23T20:58:00Z"),
        ("2021-12-30T20:59:00Z", "2021-12-31T14:30:00Z", "2021-12-30T20:58:00Z"),
        ("2021-12-31T20:59:00Z", "2022-01-03T14:30:00Z", "2021-12-31T20:58:00Z"),
    ])
    func nextAndPreviousMarketMinute(instant: String, next: String, previous: String) throws {
        let calendar = try MarketCalendar()
        #expect(try calendar.nextMarketMinute(after: mcUTC(instant)) == mcUTC(next))
        #expect(try calendar.previousMarketMinute(before: mcUTC(instant)) == mcUTC(previous))
    }

    @Test func instantsOutsideTheCalendarThrow() throws {
        let calendar = try MarketCalendar()
        for text in ["2017-12-31T12:00:00Z", "2017-06-01T15:00:00Z", "2031-01-01T12:00:00Z", "2031-01-02T15:00:00Z",
                     "1970-01-01T00:00:00Z"] {
            let instant = mcUTC(text)
            expectOutsideCalendar(instant) { _ = try calendar.isOpen(at: instant) }
            expectOutsideCalendar(instant) { _ = try calendar.nextMarketMinute(after: instant) }
            expectOutsideCalendar(instant) { _ = try calendar.previousMarketMinute(before: instant) }
        }
        // Inside the covered range but with nothing beyond: no minute after the last, none before the first.
        let last = mcUTC("2030-12-31T20:59:00Z")
        #expect(try calendar.isOpen(at: last))
        expectOutsideCalendar(last) { _ = try calendar.nextMarketMinute(after: last) }
        let first = mcUTC("2018-01-02T14:30:00Z")
        #expect(try calendar.isOpen(at: first))
        expectOutsideCalendar(first) { _ = try calendar.previousMarketMinute(before: first) }
        #expect(try calendar.nextMarketMinute(after: mcUTC("2018-01-01T12:00:00Z")) == first)
        #expect(try calendar.previousMarketMinute(before: mcUTC("2030-12-31T23:00:00Z")) == last)
    }

    // 5. stocks.db agrees with the code.

    @Test func stocksDatabaseAgreesWithTheCode() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("market-calendar-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stocks = try StocksDatabase.open(path: directory + "/stocks.db", create: true)
        let calendar = try MarketCalendar()

        let all = calendar.allSessions()
        let codeMinutes = all.reduce(0) { $0 + $1.minuteCount }
        #expect(try stocks.marketMinuteCount() == codeMinutes)
        #expect(codeMinutes == 1_268_520)

        // Sessions: a sample range across a year end, a daylight-saving switch and early closes, and all of them.
        let from = mcDay("2024-10-15"), through = mcDay("2025-03-20")
        #expect(try stocks.sessions(from: from, through: through) == calendar.sessions(from: from, through: through))
        #expect(try stocks.sessions(from: mcDay("2018-01-01"), through: mcDay("2030-12-31")) == all)

        // Pseudo-random instants (fixed seed): half anywhere, half within a few minutes of an open or a close.
        var random = SplitMix64(state: 20_240_604)
        let start = mcUTC("2018-01-02T00:00:00Z").secondsSinceEpoch
        let end = mcUTC("2030-12-31T00:00:00Z").secondsSinceEpoch
        var instants: [Timestamp] = []
        for index in 0..<400 {
            if index % 2 == 0 {
                instants.append(Timestamp(secondsSinceEpoch: Int64.random(in: start..<end, using: &random)))
            } else {
                let session = all[Int.random(in: 0..<all.count, using: &random)]
                let edge = Bool.random(using: &random) ? session.open : session.close
                instants.append(edge.adding(seconds: Int64.random(in: -180...180, using: &random)))
            }
        }
        var mismatches = 0
        for instant in instants {
            let open = try calendar.isOpen(at: instant)
            let next = try calendar.nextMarketMinute(after: instant)
            let previous = try calendar.previousMarketMinute(before: instant)
            if try stocks.isMarketOpen(at: instant) != open { mismatches += 1; Issue.record("isOpen \(instant)") }
            if try stocks.nextMarketMinute(after: instant) != next { mismatches += 1; Issue.record("next \(instant)") }
            if try stocks.previousMarketMinute(before: instant) != previous {
                mismatches += 1; Issue.record("previous \(instant)")
            }
        }
        #expect(mismatches == 0)

        // The published edges hold in stocks.db too.
        #expect(try stocks.isMarketOpen(at: mcUTC("2024-11-29T17:59:59Z")))
        #expect(try !stocks.isMarketOpen(at: mcUTC("2024-11-29T18:00:00Z")))
        #expect(try !stocks.isMarketOpen(at: mcUTC("2025-01-09T15:00:00Z")))
        #expect(try stocks.nextMarketMinute(after: mcUTC("2024-11-29T17:59:00Z")) == mcUTC("2024-12-02T14:30:00Z"))
        #expect(try stocks.previousMarketMinute(before: mcUTC("2024-03-11T13:30:00Z")) == mcUTC("2024-03-08T20:59:00Z"))
        let outside = mcUTC("2031-01-05T12:00:00Z")
        expectOutsideCalendar(outside) { _ = try stocks.isMarketOpen(at: outside) }
        expectOutsideCalendar(outside) { _ = try stocks.nextMarketMinute(after: outside) }
        let before = mcUTC("2017-12-29T15:00:00Z")
        expectOutsideCalendar(before) { _ = try stocks.previousMarketMinute(before: before) }
    }

    // 6. Timestamp and CivilDate.

    @Test func timestampParsingIsStrict() throws {
        let leap = try #require(Timestamp("2024-02-29T23:59:59Z"))
        #expect(leap.text == "2024-02-29T23:59:59Z")
        let expectedSeconds: Int64 = 19_782 * 86_400 + 86_399
        #expect(leap.secondsSinceEpoch == expectedSeconds)
        #expect(leap.utcDate.text == "2024-02-29")
        #expect(leap.secondOfDay == 86_399)
        for bad in ["2023-02-29T00:00:00Z", "2024-06-04T14:30:00+00:00", "2024-06-04 14:30:00Z",
                    "2024-06-04T14:30:00.5Z", "2024-06-04T14:30:00", "2024-06-04t14:30:00z", "2024-06-04T24:00:00Z",
                    "2024-06-04T14:60:00Z", "2024-06-04T14:30:60Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z",
                    "2024-06-00T00:00:00Z", "2024-6-04T14:30:00Z", "+024-06-04T14:30:00Z", "", " 2024-06-04T14:30:00Z"] {
            #expect(Timestamp(bad) == nil, "\(bad) should not parse")
        }
        #expect(Timestamp("1970-01-01T00:00:00Z")?.secondsSinceEpoch == 0)
        #expect(Timestamp("1969-12-31T23:59:59Z")?.secondsSinceEpoch == -1)
        #expect(Timestamp(secondsSinceEpoch: -1).text == "1969-12-31T23:59:59Z")
        #expect(Timestamp(secondsSinceEpoch: -1).minuteStart.text == "1969-12-31T23:59:00Z")
    }

    @Test func timestampTextRoundTrips() {
        for text in ["2024-06-04T14:30:00Z", "2000-02-29T12:00:00Z", "1999-12-31T23:59:59Z", "2018-01-01T00:00:00Z",
                     "2030-12-31T23:59:59Z", "1900-03-01T01:02:03Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"] {
            #expect(Timestamp(text)?.text == text)
        }
        // And from seconds to text to seconds, every ~11 hours over a wide span.
        var seconds: Int64 = -3_000_000_000
        var failures: [Int64] = []
        while seconds < 5_000_000_000 {
            let value = Timestamp(secondsSinceEpoch: seconds)
            if Timestamp(value.text) != value { failures.append(seconds) }
            seconds += 39_999
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        // Agrees with Foundation's formatting.
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for seconds in stride(from: Int64(1_500_000_000), to: 2_000_000_000, by: 7_777_777) {
            let value = Timestamp(secondsSinceEpoch: seconds)
            #expect(value.text == formatter.string(from: value.date))
        }
    }

    @Test func civilDateWeekdaysAndDayNumbers() {
        // (date, days since 1970-01-01, weekday 1 = Sunday … 7 = Saturday)
        let known: [(String, Int, Int)] = [
            ("1970-01-01", 0, 5), ("1969-12-31", -1, 4), ("2000-03-01", 11_017, 4), ("2024-02-29", 19_782, 5),
            ("1600-03-01", -135_080, 4), ("2400-02-29", 157_113, 3), ("0001-01-01", -719_162, 2),
            ("9999-12-31", 2_932_896, 6), ("2022-01-01", 18_993, 7), ("2028-01-01", 21_184, 7),
            ("2024-06-04", 19_878, 3), ("2018-12-05", 17_870, 4), ("2025-01-09", 20_097, 5),
        ]
        for (text, days, weekday) in known {
            let date = mcDay(text)
            #expect(date.daysSinceEpoch == days, "\(text)")
            #expect(date.weekday == weekday, "\(text)")
            #expect(CivilDate(daysSinceEpoch: days) == date, "\(text)")
            #expect(date.text == text)
        }
        #expect(CivilDate("2023-02-29") == nil)
        #expect(CivilDate("2024-02-30") == nil)
        #expect(CivilDate("2024-2-03") == nil)
        #expect(CivilDate(year: 1900, month: 2, day: 29) == nil)
        #expect(CivilDate(year: 2000, month: 2, day: 29) != nil)
        // Weekdays agree with Foundation for every day of the calendar's years.
        for year in 2017...2031 {
            for (text, weekday) in foundationDays(of: year) {
                #expect(mcDay(text).weekday == weekday, "\(text)")
            }
        }
    }

    @Test func civilDateDayNumbersInvertOverTheWholeRange() {
        // Every day from 0001-01-01 to 9999-12-31: days → date → days, and each date is the day after the previous.
        var previous = CivilDate(daysSinceEpoch: -719_163)
        var failures = 0
        for days in -719_162...2_932_896 {
            let date = CivilDate(daysSinceEpoch: days)
            if date.daysSinceEpoch != days || !(previous < date) { failures += 1 }
            previous = date
        }
        #expect(failures == 0)
        #expect(CivilDate(daysSinceEpoch: -719_162).text == "0001-01-01")
        #expect(CivilDate(daysSinceEpoch: 2_932_896).text == "9999-12-31")
        // Across years, step by day, the month/day fields stay valid.
        var day = mcDay("2016-12-25")
        var count = 0
        while day < mcDay("2032-01-05") {
            let next = day.adding(days: 1)
            #expect(CivilDate(year: next.year, month: next.month, day: next.day) == next)
            #expect(next.daysSinceEpoch == day.daysSinceEpoch + 1)
            day = next
            count += 1
        }
        #expect(count == 5489)
    }
}
