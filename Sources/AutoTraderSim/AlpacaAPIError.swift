import AutoTraderCore
import Foundation
import Hummingbird

/// An error answered the way Alpaca answers it: a status and `{"code": …, "message": …}` (plus extra fields for
/// some 403s), written as a `SimWire.Error`.
public struct AlpacaAPIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: Int
    public var message: String
    /// Fields beside code and message (e.g. `available`, `existing_qty` on an insufficient-qty 403).
    public var extra: [String: String]

    public init(_ status: HTTPResponse.Status, code: Int, _ message: String, extra: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
    }

    public static let unauthorized = AlpacaAPIError(.unauthorized, code: 40110000, "request is not authorized")
    public static let internalError = AlpacaAPIError(.internalServerError, code: 50010000, "internal server error")
    public static let rateLimited = AlpacaAPIError(.tooManyRequests, code: 42910000, "rate limit exceeded")
    public static let orderNotFound = AlpacaAPIError(.notFound, code: 40410000, "order not found")
    public static let assetNotFound = AlpacaAPIError(.notFound, code: 40410000, "asset not found")
    public static let positionNotFound = AlpacaAPIError(.notFound, code: 40410000, "position does not exist")
    public static let endpointNotFound = AlpacaAPIError(.notFound, code: 40410000, "endpoint not found")

    /// 422 with Alpaca's generic "invalid order parameters" code.
    public static func unprocessable(_ message: String) -> AlpacaAPIError {
        AlpacaAPIError(.unprocessableContent, code: 40010001, message)
    }

    /// 400 for a data-API parameter that can't be read.
    public static func badParameter(_ message: String) -> AlpacaAPIError {
        AlpacaAPIError(.badRequest, code: 40010000, message)
    }

    /// Any error thrown while answering, as Alpaca would phrase it.
    public static func from(_ error: any Error) -> AlpacaAPIError {
        switch error {
        case let error as AlpacaAPIError:
            return error
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .endpointNotFound
            case .methodNotAllowed: return AlpacaAPIError(.methodNotAllowed, code: 40510000, "method not allowed")
            case .contentTooLarge: return AlpacaAPIError(.contentTooLarge, code: 41310000, "request body too large")
            default:
                let code = error.status.code * 100_000
                return AlpacaAPIError(error.status, code: code, error.body ?? error.status.reasonPhrase.lowercased())
            }
        default:
            return .internalError
        }
    }

    public var response: Response {
        (try? JSONBody.response(SimWire.Error(code: code, message: message, extra: extra), status: status))
            ?? JSONBody.response(data: Data(#"{"code":50010000,"message":"internal server error"}"#.utf8), status: .internalServerError)
    }
}

/// JSON responses: a `SimWire` value, encoded the way Alpaca's servers write them (keys sorted, no escaped slashes).
enum JSONBody {
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        response(data: try SimWire.data(value), status: status)
    }

    /// For the /sim endpoints' small ad-hoc objects (counters, counts).
    static func response(object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return response(data: data, status: status)
    }

    static func response(data: Data, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A header name (HTTPTypes' `HTTPField.Name`, reached through Hummingbird's re-exported `HTTPFields`).
typealias HeaderName = HTTPFields.Element.Name

extension HeaderName {
    static let apcaKeyID = HeaderName("APCA-API-KEY-ID")!
    static let apcaSecretKey = HeaderName("APCA-API-SECRET-KEY")!
    static let rateLimitLimit = HeaderName("X-Ratelimit-Limit")!
    static let rateLimitRemaining = HeaderName("X-Ratelimit-Remaining")!
    static let rateLimitReset = HeaderName("X-Ratelimit-Reset")!
}
