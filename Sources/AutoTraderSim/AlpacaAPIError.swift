import AutoTraderCore
import Foundation
import Hummingbird

/// An error answered the way Alpaca answers it: a status and `{"code": …, "message": …}` (plus extra fields for some 403s).
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
        var body: [String: Any] = ["code": code, "message": message]
        for (key, value) in extra { body[key] = value }
        return JSONBody.response(object: body, status: status)
    }
}

/// JSON responses, encoded the way Alpaca's servers write them (keys sorted, no escaped slashes).
enum JSONBody {
    static func data<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Encodes a model, adding `extra` top-level fields the model does not carry.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, extra: ExtraFields = [:]) throws -> Response {
        var data = try data(value)
        if !extra.isEmpty, var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
            for (key, value) in extra { object[key] = value.object }
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        }
        return response(data: data, status: status)
    }

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

/// Fields a response carries beyond what the core model encodes (Alpaca sends more than AutoTrader reads).
public typealias ExtraFields = [String: ExtraValue]

/// One such field's value.
public enum ExtraValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }

    var object: Any {
        switch self {
        case .string(let value): return value
        case .integer(let value): return value
        case .number(let value): return value
        case .boolean(let value): return value
        }
    }
}
