import AutoTraderCore
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// A refusal with its HTTP status and a message that says what was wrong: the body is always
/// `{"error": "…"}` (plus `extra` fields such as `retry_after` or `available`).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public var headers: HTTPFields = [:]
    public var extra: [String: JSONValue] = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], extra: [String: JSONValue] = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra
    }

    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }

    var response: Response {
        var object = extra
        object["error"] = .string(message)
        var response = JSONOutput.response(status: status, json: JSONValue.object(object).encoded())
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Turns everything thrown while answering into a JSON error with the right status. Bad input is a 4xx;
/// a broker that can't be reached is 502/503; anything unexpected is a 500 whose details go only to the log.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let logger: Logger
    let statistics: RequestStatistics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPParserError {
            // Not HTTP (a bad chunk size, a body cut short): Hummingbird answers 400 and closes the connection.
            throw error
        } catch {
            let apiError = Self.apiError(for: error, request: request)
            if apiError.status.code >= 500 {
                logger.error("request failed", metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(apiError.status.code)",
                    "error": "\(Self.loggable(error))",
                ])
            }
            response = apiError.response
        }
        statistics.record(status: Int(response.status.code))
        if logger.logLevel <= .debug {
            // Only the method, the path and the status: never a query, a header or a body (the PIN travels in those).
            logger.debug("request", metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "us": "\((ContinuousClock.now - started).microseconds)", "client": "\(context.clientKey)",
            ])
        }
        return response
    }

    static func apiError(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as CardRefusal:
            return APIError(.badRequest, error.description)
        case let error as InsufficientCash:
            return APIError(.conflict, error.description, extra: ["available": .number(error.available)])
        case let error as AutoTraderError:
            switch error {
            case .unknownAlgorithm: return APIError(.notFound, error.description)
            case .algorithmAlreadyStopped, .algorithmStopped, .noPendingLiquidation: return APIError(.conflict, error.description)
            case .holdsShares(_, _, let shares): return APIError(.conflict, error.description, extra: ["shares": .number(Decimal(shares))])
            case .invalidTicker, .invalidAlgorithmType, .invalidCapital, .invalidPIN, .invalidTimestamp, .invalidRange:
                return APIError(.badRequest, error.description)
            case .databaseLockTimeout: return APIError(.serviceUnavailable, "the database is busy; try again")
            default: return APIError(.internalServerError, "internal error")
            }
        case let error as AlpacaError:
            return brokerError(error)
        case let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED:
            return APIError(.serviceUnavailable, "the database is busy; try again")
        case let error as AssetLookups.Throttled:
            return APIError(
                .tooManyRequests, "too many look-ups at the broker: try again in \(error.retryAfter) s",
                headers: [.retryAfter: String(error.retryAfter)], extra: ["retry_after": .number(Decimal(error.retryAfter))])
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "the request body is larger than \(APIServer.maxBodyBytes) bytes")
        case let error as HTTPError:
            if error.status == .notFound {
                // A known path asked with a method the router has never heard of (QUERY, PROPFIND …): 405, not 404.
                if let allowed = APIRoutes.allowedMethods(path: request.uri.path) {
                    let allow = allowed.map(\.rawValue).joined(separator: ", ")
                    return APIError(
                        .methodNotAllowed, "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allow)",
                        headers: [.allow: allow])
                }
                return APIError(.notFound, "no such endpoint: \(request.method.rawValue) \(request.uri.path)")
            }
            return APIError(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        case let error as any HTTPResponseError:
            return APIError(error.status, error.status.reasonPhrase)
        default:
            return APIError(.internalServerError, "internal error")
        }
    }

    /// 503 when the broker could not be reached, 502 when it answered with something unusable.
    static func brokerError(_ error: AlpacaError) -> APIError {
        switch error {
        case .transport, .rateLimited:
            return APIError(.serviceUnavailable, "the broker can't be reached: \(error.message)")
        case .configuration:
            return APIError(.serviceUnavailable, "the broker is not configured: \(error.message)")
        case .api(let status, _, _) where status == 401 || status == 403:
            return APIError(.badGateway, "the broker refused the api's keys (HTTP \(status)); check ALPACA_API_KEY and ALPACA_SECRET")
        case .api(let status, _, let message):
            return APIError(.badGateway, "the broker answered HTTP \(status): \(message)")
        case .invalidResponse:
            return APIError(.badGateway, "the broker's answer could not be read")
        }
    }

    /// An error as the log may show it (our own errors' messages never contain a PIN or a key).
    static func loggable(_ error: any Error) -> String {
        switch error {
        case let error as AutoTraderError: return error.description
        case let error as AlpacaError: return error.description
        case let error as DatabaseError: return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "")"
        default: return String(describing: type(of: error))
        }
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
