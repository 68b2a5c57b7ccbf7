import Foundation
import Testing
@testable import AutoTraderCore

/// The executor's view of the broker's clock: few reads (each spends the account's rate budget),
/// accurate extrapolation at the rate observed, never ahead after a jump, and a read on demand.
///
/// The sleeps in these tests are the experiment, not synchronisation: `BrokerClock` decides by how much real time
/// has passed between calls (its refresh intervals), so the calls are spaced in real time. Every assertion holds
/// when a loaded machine stretches the spacing (longer gaps mean fewer warm-up reads, still one read per closed-
/// market call, still none within the 60 s open interval), and the extrapolation tolerances are in broker time.
@Suite struct BrokerClockTests {
    /// A broker clock running at `speed` from `start`, which can jump; counts its reads.
    final class FakeBroker: @unchecked Sendable {
        private let lock = NSLock()
        private let began = Date()
        private var offset = 0.0
        var speed: Double
        let start: Double
        var isOpen = true
        private(set) var reads = 0

        init(start: Double, speed: Double) { self.start = start; self.speed = speed }

        var now: Double { lock.withLock { start + offset + Date().timeIntervalSince(began) * speed } }
        func jump(_ seconds: Double) { lock.withLock { offset += seconds } }
        func read() -> (time: Double, isOpen: Bool) {
            lock.withLock { reads += 1 }
            return (now, isOpen)
        }
    }

    static let start = Double(Timestamp.at("2024-06-04T14:00:00Z").secondsSinceEpoch)

    @Test func learnsTheRateQuicklyThenReadsRarelyAndExtrapolatesWithinAMinute() async throws {
        // At 60× a 100 ms scheduling hiccup (a loaded CI machine) is 6 s of broker time: well inside the tolerance.
        let broker = FakeBroker(start: Self.start, speed: 60)
        let clock = BrokerClock(refresh: .init(warmup: .milliseconds(50), open: .seconds(60), closed: .seconds(60))) { broker.read() }
        // Warm-up: a read whenever 50 ms have passed, until the rate is measured over 2 s.
        for _ in 0..<40 {
            _ = try await clock.now()
            try await Task.sleep(for: .milliseconds(60))
        }
        let warmupReads = broker.reads
        #expect(warmupReads >= 2 && warmupReads <= 40, "\(warmupReads) warm-up reads") // (one to start the stretch, one to measure it)
        // Then none within the open interval, however often it is asked, and the extrapolation follows the broker.
        var worst = 0.0
        for _ in 0..<40 {
            let (time, _) = try await clock.now()
            worst = max(worst, abs(time - broker.now))
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(broker.reads == warmupReads, "\(broker.reads - warmupReads) reads after the rate was known")
        #expect(worst < 30, "extrapolation off by \(worst) s of broker time")
    }

    @Test func aJumpNeverMakesItRunAheadAndInvalidateReadsAtOnce() async throws {
        let broker = FakeBroker(start: Self.start, speed: 60)
        let clock = BrokerClock(refresh: .init(warmup: .milliseconds(20), open: .seconds(60), closed: .seconds(60))) { broker.read() }
        for _ in 0..<32 { // (the rate is measured once 2 s lie between the first sample and the latest)
            _ = try await clock.now()
            try await Task.sleep(for: .milliseconds(70))
        }
        let readsBefore = broker.reads
        broker.jump(17 * 3600) // the simulator skips a night
        let (stale, _) = try await clock.now()
        #expect(broker.reads == readsBefore, "no read within the open interval")
        #expect(stale < broker.now - 3600, "the extrapolated clock doesn't know of the jump yet")
        await clock.invalidate()
        let (fresh, _) = try await clock.now()
        #expect(broker.reads == readsBefore + 1)
        #expect(abs(fresh - broker.now) < 30) // (60×: a 0.5 s hiccup of a loaded machine is 30 s)
        // The jump starts a new stretch at the same rate: it doesn't run ahead.
        try await Task.sleep(for: .milliseconds(200))
        let (later, _) = try await clock.now()
        #expect(later <= broker.now + 10, "ran ahead by \(later - broker.now) s (a night would be 61,200)")
    }

    /// A jump while the rate is still unknown (the simulator skips closed hours just after a service starts)
    /// poisons the first measurement; the clock must notice (every later sample is far off) and measure again,
    /// not extrapolate at hundreds of times the broker's speed for good (a streamer replaced its connection
    /// every second for "no data for 209 s of the broker's clock" that way).
    @Test func aJumpBeforeTheRateIsKnownIsOutgrown() async throws {
        let broker = FakeBroker(start: Self.start, speed: 60)
        let clock = BrokerClock(refresh: .init(warmup: .milliseconds(20), open: .milliseconds(300), closed: .milliseconds(300))) { broker.read() }
        // 100 calls 70 ms apart (at least 7 s: the poisoned rate, two far-off reads 300 ms apart, a new warm-up of
        // 2 s); a loaded machine only stretches the gaps, which means more reads, never fewer.
        for call in 0..<100 {
            // Just after the first read: no rate yet, so the jump can't be seen as one.
            if call == 2 { broker.jump(68 * 60) }
            _ = try await clock.now()
            try await Task.sleep(for: .milliseconds(70))
        }
        // Now it follows the broker: close to it, and moving at its speed (60 × 0.25 s = 15 s).
        let (first, _) = try await clock.now()
        try await Task.sleep(for: .milliseconds(250))
        let (second, _) = try await clock.now()
        #expect(abs(second - broker.now) < 30, "off by \(second - broker.now) s of broker time")
        #expect(abs((second - first) - 15) < 10, "moved \(second - first) s in 0.25 s (60× is 15 s)")
    }

    @Test func whileClosedItReadsOftenerSoAnOpenIsNotMissedByLong() async throws {
        let broker = FakeBroker(start: Self.start, speed: 1)
        broker.isOpen = false
        let clock = BrokerClock(refresh: .init(warmup: .milliseconds(20), open: .seconds(60), closed: .milliseconds(100))) { broker.read() }
        for _ in 0..<40 { // past the warm-up
            _ = try await clock.now()
            try await Task.sleep(for: .milliseconds(60))
        }
        // Closed: every call more than 100 ms after the last read reads again (open, it would wait 60 s).
        let before = broker.reads
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(120))
            _ = try await clock.now()
        }
        #expect(broker.reads - before == 5, "closed: \(broker.reads - before) reads in 5 calls 120 ms apart")
    }
}
