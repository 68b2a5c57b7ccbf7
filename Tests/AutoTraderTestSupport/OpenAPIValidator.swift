import Foundation
import Yams

/// A JSON value as a test reads it (booleans and numbers kept apart, which JSONSerialization on Linux doesn't).
enum JSONAny: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONAny]), object([String: JSONAny])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONAny].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONAny].self)) }
    }

    static func parse(_ data: Data) throws -> JSONAny { try JSONDecoder().decode(JSONAny.self, from: data) }

    subscript(key: String) -> JSONAny? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { return value }; return nil }
    var number: Double? { if case .number(let value) = self { return value }; return nil }
    var bool: Bool? { if case .bool(let value) = self { return value }; return nil }
    var array: [JSONAny]? { if case .array(let value) = self { return value }; return nil }
    var isNull: Bool { self == .null }
}

/// Checks answers against openapi.yaml: the operation must document the status, the answer must carry
/// the headers the response requires (with values their schemas allow) and the documented content type,
/// and the body must match the documented schema (the subset of JSON Schema the document uses).
/// Answers the document describes for every path — 404 for an unknown /api path, 405 with `Allow` for
/// a known path's other methods — must be `{"error": …}` with the headers of `x-security-headers`.
final class OpenAPIValidator: @unchecked Sendable {
    static let shared: OpenAPIValidator = {
        let root = Repository.root
        let text = try! String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        return OpenAPIValidator(document: try! Yams.load(yaml: text) as! [String: Any])
    }()

    let document: [String: Any]
    var paths: [String: Any] { document["paths"] as! [String: Any] }

    init(document: [String: Any]) { self.document = document }

    /// The documented path template a concrete path matches.
    func template(for path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return paths.keys.sorted().first { template in
            let pattern = template.split(separator: "/", omittingEmptySubsequences: false)
            guard pattern.count == parts.count else { return false }
            return zip(pattern, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }

    /// Problems with one answer (empty: it matches the document).
    func problems(method: String, path: String, status: Int, headers: [String: String], body: Data) -> [String] {
        let bare = String(path.split(separator: "?", maxSplits: 1).first ?? "")
        guard bare.hasPrefix("/api") else { return [] }
        let errorSchema = ["$ref": "#/components/schemas/Error"]
        // The headers the router puts on every answer (a map of header name to header object).
        let everyAnswer = document["x-security-headers"] as? [String: Any] ?? [:]
        let documented = template(for: bare).flatMap { (paths[$0] as! [String: Any])[method.lowercased()] } != nil
        // Answered before routing whatever the path and method (a foreign Host, a body declared too large):
        // documented on each operation, and as the document's introduction says for the other paths and methods.
        if !documented, [413, 421].contains(status) {
            return validateBody(body, schema: errorSchema, where: "\(method) \(bare) \(status)")
        }
        guard let template = template(for: bare) else {
            guard status == 404 else { return ["\(method) \(bare): undocumented path answered \(status), expected 404"] }
            return validateBody(body, schema: errorSchema, where: "\(method) \(bare) 404")
                + validateHeaders(headers, specs: everyAnswer, where: "\(method) \(bare) 404")
        }
        let item = paths[template] as! [String: Any]
        guard let operation = item[method.lowercased()] as? [String: Any] else {
            if method == "HEAD", item["get"] != nil { return [] }
            guard status == 405 else { return ["\(method) \(template): undocumented method answered \(status), expected 405"] }
            var problems = validateBody(body, schema: errorSchema, where: "\(method) \(template) 405")
                + validateHeaders(headers, specs: everyAnswer, where: "\(method) \(template) 405")
            if headers.first(where: { $0.key.lowercased() == "allow" }) == nil { problems.append("405 without Allow") }
            return problems
        }
        let responses = operation["responses"] as! [String: Any]
        guard var response = responses[String(status)] as? [String: Any] else {
            return ["\(method) \(template): status \(status) is not documented (documented: \(responses.keys.sorted().joined(separator: ", ")))"]
        }
        if let ref = response["$ref"] as? String { response = resolve(ref) }
        let location = "\(method) \(template) \(status)"
        var problems = validateHeaders(headers, specs: response["headers"] as? [String: Any] ?? [:], where: location)
        guard let content = response["content"] as? [String: Any],
              let json = content["application/json"] as? [String: Any], let schema = json["schema"] as? [String: Any]
        else { return problems }
        let contentType = headers.first(where: { $0.key.lowercased() == "content-type" })?.value ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if mediaType != "application/json" {
            problems.append("\(location): Content-Type \(contentType.debugDescription), documented application/json")
        }
        return problems + validateBody(body, schema: schema, where: location)
    }

    /// Required headers must be there; every documented header that is there must fit its schema
    /// (an integer schema reads the value as a whole number).
    func validateHeaders(_ headers: [String: String], specs: [String: Any], where location: String) -> [String] {
        var problems: [String] = []
        for (name, rawSpec) in specs.sorted(by: { $0.key < $1.key }) {
            guard var spec = rawSpec as? [String: Any] else { continue }
            if let ref = spec["$ref"] as? String { spec = resolve(ref) }
            guard let value = headers.first(where: { $0.key.lowercased() == name.lowercased() })?.value else {
                if spec["required"] as? Bool == true { problems.append("\(location): missing header \(name)") }
                continue
            }
            guard let schema = spec["schema"] as? [String: Any] else { continue }
            let type = (schema["$ref"] as? String).map { resolve($0)["type"] } ?? schema["type"]
            if type as? String == "integer" {
                guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
                    problems.append("\(location): header \(name) \(value.debugDescription) is not a whole number")
                    continue
                }
                problems += validate(.number(Double(number)), schema, at: "\(location) header \(name)")
            } else {
                problems += validate(.string(value), schema, at: "\(location) header \(name)")
            }
        }
        return problems
    }

    private func validateBody(_ body: Data, schema: [String: Any], where location: String) -> [String] {
        guard let value = try? JSONAny.parse(body) else {
            return ["\(location): body is not JSON: \(String(decoding: body.prefix(200), as: UTF8.self))"]
        }
        return validate(value, schema, at: location)
    }

    func resolve(_ ref: String) -> [String: Any] {
        var node: Any = document
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as! [String: Any])[String(part)]! }
        return node as! [String: Any]
    }

    func validate(_ value: JSONAny, _ schema: [String: Any], at path: String) -> [String] {
        if let ref = schema["$ref"] as? String { return validate(value, resolve(ref), at: path) }
        if let options = schema["oneOf"] as? [[String: Any]] {
            let matching = options.filter { validate(value, $0, at: path).isEmpty }.count
            return matching == 1 ? [] : ["\(path): matches \(matching) of oneOf"]
        }
        var problems: [String] = []
        if let type = schema["type"] {
            let types = (type as? [String]) ?? [type as! String]
            let ok = types.contains { t in
                switch (t, value) {
                case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object), ("number", .number):
                    return true
                case ("integer", .number(let n)): return n == n.rounded()
                default: return false
                }
            }
            if !ok { return ["\(path): \(value) is not \(types.joined(separator: "|"))"] }
        }
        if let constant = schema["const"] {
            if let b = constant as? Bool, value != .bool(b) { problems.append("\(path): expected \(b)") }
            if let s = constant as? String, value != .string(s) { problems.append("\(path): expected \(s.debugDescription)") }
        }
        if let options = schema["enum"] as? [Any] {
            let strings = options.map { "\($0)" }
            if let s = value.string, !strings.contains(s) { problems.append("\(path): \(s) not in \(strings)") }
        }
        switch value {
        case .string(let s):
            if let pattern = schema["pattern"] as? String, s.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(s.debugDescription) doesn't match \(pattern)")
            }
            if let min = schema["minLength"] as? Int, s.count < min { problems.append("\(path): shorter than \(min)") }
            if let max = schema["maxLength"] as? Int, s.count > max { problems.append("\(path): longer than \(max)") }
        case .number(let n):
            if let min = (schema["minimum"] as? NSNumber)?.doubleValue, n < min { problems.append("\(path): \(n) < \(min)") }
            if let max = (schema["maximum"] as? NSNumber)?.doubleValue, n > max { problems.append("\(path): \(n) > \(max)") }
            if let min = (schema["exclusiveMinimum"] as? NSNumber)?.doubleValue, n <= min { problems.append("\(path): \(n) <= \(min)") }
        case .array(let items):
            if let max = schema["maxItems"] as? Int, items.count > max { problems.append("\(path): more than \(max) items") }
            if let itemSchema = schema["items"] as? [String: Any] {
                for (index, item) in items.enumerated() { problems += validate(item, itemSchema, at: "\(path)[\(index)]") }
            }
        case .object(let fields):
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in schema["required"] as? [String] ?? [] where fields[name] == nil {
                problems.append("\(path): missing \(name)")
            }
            if schema["additionalProperties"] as? Bool == false {
                for name in fields.keys where properties[name] == nil { problems.append("\(path): unexpected field \(name)") }
            }
            for (name, field) in fields {
                if let propertySchema = properties[name] as? [String: Any] {
                    problems += validate(field, propertySchema, at: "\(path).\(name)")
                }
            }
        default: break
        }
        return problems
    }
}
