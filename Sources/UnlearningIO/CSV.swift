import Foundation
import LinearAlgebra

/// Comma-separated values with a header line: one numeric column per input
/// feature, a label column (integer class labels), and optionally an id
/// column. Fields may be quoted ("..."; a doubled quote inside is a quote).
public enum CSV {
    /// The longest field accepted (bytes). A number needs a few dozen; a
    /// longer field is refused at once, so a 50 MB line costs one linear
    /// scan, not a parse of 50 MB of digits.
    public static let maximumFieldBytes = 4096

    /// Reads a labeled data set.
    ///
    /// - Parameters:
    ///   - path: the CSV file: a header line, numeric feature columns.
    ///   - labelColumn: the header name of the label column.
    ///   - idColumn: the header name of the id column; when absent from the
    ///     header, the ids are the data rows (0-based, header excluded).
    /// - Throws: `badLine` naming the line (1-based, header is line 1) for a
    ///   wrong field count, a non-numeric or non-finite value, a non-integer
    ///   label or id; `malformed` for a missing label column, an empty file,
    ///   or a file that is not a regular file. Messages quote at most a short
    ///   excerpt of the offending field.
    /// - Complexity: O(file size).
    public static func load(_ path: String, labelColumn: String = "label", idColumn: String = "id") throws -> LabeledData {
        try parse(InputFile.read(path), path: path, labelColumn: labelColumn, idColumn: idColumn)
    }

    /// Parses CSV text (see `load`); `path` names it in errors.
    public static func parse(_ text: String, path: String, labelColumn: String = "label", idColumn: String = "id") throws -> LabeledData {
        try parse(Array(text.utf8), path: path, labelColumn: labelColumn, idColumn: idColumn)
    }

    /// Parses CSV bytes (UTF-8; see `load`); `path` names them in errors.
    public static func parse(_ bytes: [UInt8], path: String, labelColumn: String = "label", idColumn: String = "id") throws -> LabeledData {
        var lines = try records(bytes, path: path)
        guard let header = lines.first else { throw DataError.malformed(path: path, reason: "empty file (a header line is required)") }
        lines.removeFirst()
        var names: [String] = []
        for field in header.fields {
            guard let name = String(validating: field, as: UTF8.self) else {
                throw DataError.badLine(path: path, line: 1, reason: "a column name is not UTF-8 text")
            }
            names.append(name.trimmingCharacters(in: .whitespaces))
        }
        guard let labelIndex = names.firstIndex(of: labelColumn) else {
            throw DataError.badLine(path: path, line: 1, reason: "no column named '\(excerpt(labelColumn))' in the header (columns: \(excerpt(names.joined(separator: ", "), limit: 200)))")
        }
        let idIndex = names.firstIndex(of: idColumn)
        let featureIndices = names.indices.filter { $0 != labelIndex && $0 != idIndex }
        guard !featureIndices.isEmpty else { throw DataError.badLine(path: path, line: 1, reason: "no feature columns besides '\(excerpt(labelColumn))'") }
        guard !lines.isEmpty else { throw DataError.malformed(path: path, reason: "a header but no data lines") }
        let n = lines.count, d = featureIndices.count
        let (cells, overflow) = n.multipliedReportingOverflow(by: d)
        guard !overflow, cells <= bytes.count else {
            throw DataError.malformed(path: path, reason: "\(n) lines of \(d) features cannot fit in \(bytes.count) bytes")
        }
        var x = Matrix(rows: n, columns: d)
        var labels: [Int] = [], ids: [Int] = []
        labels.reserveCapacity(n)
        for (r, record) in lines.enumerated() {
            guard record.fields.count == names.count else {
                throw DataError.badLine(path: path, line: record.line, reason: "\(record.fields.count) fields, the header has \(names.count)")
            }
            func integer(_ k: Int, _ what: String) throws -> Int {
                let field = trimmed(record.fields[k])
                if let v = exactInteger(field) { return v }
                throw DataError.badLine(path: path, line: record.line,
                                        reason: "\(what) '\(excerpt(String(decoding: field, as: UTF8.self)))' (column '\(excerpt(names[k]))') is not an integer")
            }
            labels.append(try integer(labelIndex, "label"))
            ids.append(try idIndex.map { try integer($0, "id") } ?? r)
            for (c, k) in featureIndices.enumerated() {
                let field = trimmed(record.fields[k])
                guard let v = decimalNumber(field) else {
                    throw DataError.badLine(path: path, line: record.line,
                                            reason: "'\(excerpt(String(decoding: field, as: UTF8.self)))' in column '\(excerpt(names[k]))' is not a number (a finite decimal)")
                }
                x[r, c] = v
            }
        }
        var seen = [Int: Int]()
        for (r, id) in ids.enumerated() {
            if let first = seen.updateValue(r, forKey: id) {
                throw DataError.badLine(path: path, line: lines[r].line, reason: "id \(id) repeats the id of line \(lines[first].line)")
            }
        }
        return try LabeledData(inputs: x, labels: labels, ids: ids, source: path)
    }

    /// `field` without leading and trailing spaces and tabs.
    static func trimmed(_ field: [UInt8]) -> ArraySlice<UInt8> {
        var lo = 0, hi = field.count
        while lo < hi, field[lo] == 0x20 || field[lo] == 0x09 { lo += 1 }
        while hi > lo, field[hi - 1] == 0x20 || field[hi - 1] == 0x09 { hi -= 1 }
        return field[lo..<hi]
    }

    /// Whether `field` is a decimal number and nothing else:
    /// [+-]? digits [. digits] [(e|E) [+-]? digits], with at least one digit
    /// in the mantissa. Hexadecimal floats, "nan", "inf", thousands
    /// separators and trailing text are refused.
    static func isDecimal(_ field: ArraySlice<UInt8>) -> Bool {
        var i = field.startIndex
        let end = field.endIndex
        func digits() -> Int {
            let begin = i
            while i < end, (0x30...0x39).contains(field[i]) { i += 1 }
            return i - begin
        }
        if i < end, field[i] == UInt8(ascii: "+") || field[i] == UInt8(ascii: "-") { i += 1 }
        var mantissa = digits()
        if i < end, field[i] == UInt8(ascii: ".") { i += 1; mantissa += digits() }
        guard mantissa > 0 else { return false }
        if i < end, field[i] == UInt8(ascii: "e") || field[i] == UInt8(ascii: "E") {
            i += 1
            if i < end, field[i] == UInt8(ascii: "+") || field[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == end
    }

    /// The finite value of a decimal number (correctly rounded), or nil.
    static func decimalNumber(_ field: ArraySlice<UInt8>) -> Double? {
        guard isDecimal(field), let v = Double(String(decoding: field, as: UTF8.self)), v.isFinite else { return nil }
        return v
    }

    /// An integer written in decimal ("42", "-7", or a decimal number that
    /// is exactly an integer such as "3.0"), within Int's range, or nil.
    static func exactInteger(_ field: ArraySlice<UInt8>) -> Int? {
        if field.count <= 20, let v = Int(String(decoding: field, as: UTF8.self), radix: 10) { return v }
        guard let v = decimalNumber(field) else { return nil }
        return Int(exactly: v)
    }

    struct Record { var fields: [[UInt8]]; var line: Int }

    /// Splits bytes into records of fields (RFC 4180 quoting), skipping blank
    /// lines; each record remembers the line it starts on. A field longer
    /// than `maximumFieldBytes` is refused.
    static func records(_ bytes: [UInt8], path: String) throws -> [Record] {
        var out: [Record] = []
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var inQuotes = false
        var line = 1, recordLine = 1
        var afterQuote = false
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        func append(_ c: UInt8) throws {
            guard field.count < maximumFieldBytes else {
                throw DataError.badLine(path: path, line: line, reason: "a field longer than \(maximumFieldBytes) bytes (starts '\(excerpt(String(decoding: field.prefix(40), as: UTF8.self)))')")
            }
            field.append(c)
        }
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && trimmed(fields[0]).isEmpty) {
                out.append(Record(fields: fields, line: recordLine))
            }
            fields = []; field = []
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if inQuotes {
                if c == quote {
                    if i < bytes.count, bytes[i] == quote { try append(quote); i += 1 } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == newline { line += 1 }
                    try append(c)
                }
                continue
            }
            switch c {
            case quote:
                guard trimmed(field).isEmpty, !afterQuote else {
                    throw DataError.badLine(path: path, line: line, reason: "a quote inside an unquoted field")
                }
                field = []; inQuotes = true
            case comma:
                fields.append(field); field = []; afterQuote = false
                guard fields.count <= 1 << 20 else { throw DataError.badLine(path: path, line: line, reason: "more than 1048576 fields") }
            case newline:
                endRecord(); line += 1; recordLine = line; afterQuote = false
            case cr:
                continue
            default:
                if afterQuote && c != 0x20 { throw DataError.badLine(path: path, line: line, reason: "text after a closing quote") }
                try append(c)
            }
        }
        if inQuotes { throw DataError.badLine(path: path, line: recordLine, reason: "a quoted field is not closed before the end of the file") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return out
    }
}
