import AutoTraderCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// Assembles and runs the Alpaca-compatible exchange from its parts.
public enum Simulator {
    /// The shared state a running simulator is made of.
    public struct Parts: Sendable {
        public let configuration: SimulatorConfiguration
        public let clock: SimClock
        public let hours: TradingHours
        public let generator: MarketDataGenerator
        public let faults: FaultInjector
        public let stats: SimStats
        public let exchange: Exchange
        public let hub: StreamHub
        public let tradeUpdates: TradeUpdatesHub
    }

    public static func makeParts(_ configuration: SimulatorConfiguration, logger: Logger) throws -> Parts {
        if let problem = configuration.problem { throw SimulatorError(problem) }
        let hours = TradingHours(calendar: try MarketCalendar(), extendedHours: configuration.extendedHours)
        let clock = SimClock(start: configuration.start ?? Date(), speed: configuration.speed)
        let universe = Universe.standard(syntheticCount: configuration.syntheticSymbols)
        let generator = MarketDataGenerator(seed: configuration.seed, universe: universe, hours: hours,
                                            updatedBarRate: configuration.updatedBarRate,
                                            gapEvery: configuration.gapEvery, gapPercent: configuration.gapPercent)
        let faults = FaultInjector(configuration: configuration)
        let stats = SimStats()
        let exchange = Exchange(configuration: configuration, clock: clock, generator: generator, faults: faults,
                                stats: stats, logger: logger)
        let hub = StreamHub(configuration: configuration, generator: generator, stats: stats, logger: logger)
        return Parts(configuration: configuration, clock: clock, hours: hours, generator: generator, faults: faults,
                     stats: stats, exchange: exchange, hub: hub,
                     tradeUpdates: TradeUpdatesHub(configuration: configuration, stats: stats, logger: logger))
    }

    /// The application: one port for trading REST, market-data REST, the stream and /sim; the background services.
    /// `onListening` gets the host and the bound port (useful with port 0).
    public static func buildApplication(
        _ configuration: SimulatorConfiguration, logger: Logger,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }
    ) throws -> some ApplicationProtocol {
        let parts = try makeParts(configuration, logger: logger)

        let router = Router(context: SimRequestContext.self)
        router.middlewares.add(AlpacaErrorMiddleware())
        let alpaca = router.group("v2")
            .add(middleware: AlpacaGatewayMiddleware(configuration: configuration, faults: parts.faults, stats: parts.stats))
        TradingRoutes(exchange: parts.exchange, clock: parts.clock, hours: parts.hours, universe: parts.generator.universe)
            .add(to: alpaca)
        MarketDataRoutes(generator: parts.generator, clock: parts.clock, feeds: configuration.feeds).add(to: alpaca)
        let inspection = router.group("sim").add(middleware: LoopbackOnlyMiddleware())
        InspectionRoutes(exchange: parts.exchange, hub: parts.hub, generator: parts.generator, clock: parts.clock,
                         stats: parts.stats, configuration: configuration, tradeUpdates: parts.tradeUpdates).add(to: inspection)

        let streamRouter = Router(context: BasicWebSocketRequestContext.self)
        StreamRoutes.add(to: streamRouter, hub: parts.hub, tradeUpdates: parts.tradeUpdates,
                         authTimeout: configuration.authTimeout)
        let streamResponder = streamRouter.buildResponder()

        var services: [any Service] = [
            MatchingService(exchange: parts.exchange, clock: parts.clock),
            TradeUpdatesService(exchange: parts.exchange, hub: parts.tradeUpdates),
            BarPublisher(clock: parts.clock, hours: parts.hours, hub: parts.hub, generator: parts.generator,
                         barDelay: .milliseconds(configuration.barDelayMilliseconds), logger: logger),
        ]
        if configuration.skipClosed {
            services.append(ClockJumpService(clock: parts.clock, hours: parts.hours, logger: logger))
        }
        if let interval = configuration.disconnectEvery {
            services.append(StreamDisconnector(hub: parts.hub, interval: interval))
        }

        let host = configuration.host
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(
                streamResponder: streamResponder,
                configuration: .init(ws: .init(
                    maxFrameSize: 1 << 20, autoPing: .enabled(timePeriod: .seconds(30)),
                    // A client that never answers the close frame must not hold up shutdown.
                    closeTimeout: .seconds(2))),
                streamPaths: Set(StreamRoutes.feeds.map { "/v2/\($0)" })),
            configuration: .init(address: .hostname(host, port: configuration.port)),
            services: services,
            onServerRunning: { channel in
                onListening(host, channel.localAddress?.port ?? configuration.port)
            },
            logger: logger)
    }
}

/// A configuration the simulator can't run with.
public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
