import Foundation
import Hummingbird
import Logging

/// Turns anything thrown while answering into Alpaca's error body (unknown routes included).
struct AlpacaErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return AlpacaAPIError.from(error).response
        }
    }
}

/// What stands between a client and Alpaca's REST endpoints, in Alpaca's order: the key pair (401), the rate
/// limit (429, and the X-Ratelimit-* headers on every answer), then the injected faults: latency and 500s
/// (for requests that change state, sometimes after the change was made).
struct AlpacaGatewayMiddleware<Context: RequestContext>: RouterMiddleware {
    let configuration: SimulatorConfiguration
    let faults: FaultInjector
    let stats: SimStats

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        stats.add(.restRequests)
        if configuration.latencyMilliseconds > 0 {
            try await Task.sleep(for: .milliseconds(configuration.latencyMilliseconds))
        }
        guard request.headers[.apcaKeyID] == configuration.keyID,
              request.headers[.apcaSecretKey] == configuration.secretKey
        else {
            stats.add(.unauthorizedRequests)
            var response = AlpacaAPIError.unauthorized.response
            Self.addHeaders(faults.currentRateLimit(nowEpoch: Date().timeIntervalSince1970), to: &response)
            return response
        }
        let limit = faults.rateLimit(nowEpoch: Date().timeIntervalSince1970)
        var response: Response
        if limit.throttled {
            stats.add(.rateLimited)
            response = AlpacaAPIError.rateLimited.response
        } else {
            let mutating = request.method != .get && request.method != .head
            switch faults.requestFault(mutating: mutating) {
            case .none:
                do { response = try await next(request, context) } catch { response = AlpacaAPIError.from(error).response }
            case .failBefore:
                stats.add(.injectedErrors)
                context.logger.info("injected 500 (nothing done)", metadata: ["path": "\(request.uri.path)"])
                response = AlpacaAPIError.internalError.response
            case .failAfter:
                // The real failure mode a client must survive: the work happened, the answer is lost.
                _ = try? await next(request, context)
                stats.add(.injectedErrors)
                stats.add(.injectedErrorsAfterAccept)
                context.logger.info("injected 500 after the request was carried out", metadata: ["path": "\(request.uri.path)"])
                response = AlpacaAPIError.internalError.response
            }
        }
        Self.addHeaders(limit, to: &response)
        return response
    }

    static func addHeaders(_ limit: FaultInjector.RateLimitState, to response: inout Response) {
        response.headers[.rateLimitLimit] = String(limit.limit)
        response.headers[.rateLimitRemaining] = String(limit.remaining)
        response.headers[.rateLimitReset] = String(limit.reset)
    }
}

/// Keeps the /sim inspection routes to this machine, whatever address the server listens on.
struct LoopbackOnlyMiddleware: RouterMiddleware {
    typealias Context = SimRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.isLoopback else {
            return AlpacaAPIError(.forbidden, code: 40310000, "the /sim endpoints answer only on loopback").response
        }
        return try await next(request, context)
    }
}
