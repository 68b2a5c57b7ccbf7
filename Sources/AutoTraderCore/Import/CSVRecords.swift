import Foundation

/// Splits CSV text into records as spreadsheets and brokers' exports write it (RFC 4180 and its
/// common variations): a UTF-8 byte-order mark, CRLF, LF or lone CR line ends, fields in double quotes
/// with commas, doubled quotes and line breaks inside. Each record keeps the line it started on.
public enum CSVRecords {
    public struct Record: Equatable, Sendable {
        public let line: Int
        public let fields: [String]
    }

    /// A quote left open at the end of the file, by the line it opened on.
    public struct UnclosedQuote: Error, Equatable, Sendable { public let line: Int }

    public static func parse(_ text: String) -> (records: [Record], unclosedQuote: UnclosedQuote?) {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1, recordLine = 1
        var quoted = false, quoteOpenedAt = 0
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
        }
        func endRecord() {
            endField()
            // A line with nothing on it (or only blanks) is not a record.
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
        }

        while let scalar = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    if scalar == "\n" || (scalar == "\r") { line += 1 }
                    if scalar == "\r" {
                        // CRLF inside quotes is one line break.
                        let next = iterator.next()
                        if next != "\n" { pending = next }
                        field.append("\n")
                        continue
                    }
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where String(field).trimmingCharacters(in: .whitespaces).isEmpty:
                field = String.UnicodeScalarView()
                quoted = true
                quoteOpenedAt = line
            case ",":
                endField()
            case "\r", "\n":
                if scalar == "\r" {
                    let next = iterator.next()
                    if next != "\n" { pending = next }
                }
                endRecord()
                line += 1
                recordLine = line
            default:
                field.append(scalar)
            }
        }
        if quoted { return (records, UnclosedQuote(line: quoteOpenedAt)) }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return (records, nil)
    }
}
