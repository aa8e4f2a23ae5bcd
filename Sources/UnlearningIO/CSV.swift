import Foundation
import LinearAlgebra

/// Comma-separated values with a header line: one numeric column per input
/// feature, a label column (integer class labels), and optionally an id
/// column. Fields may be quoted ("..."; a doubled quote inside is a quote).
public enum CSV {
    /// Reads a labeled data set.
    ///
    /// - Parameters:
    ///   - labelColumn: the header name of the label column.
    ///   - idColumn: the header name of the id column; when absent from the
    ///     header, the ids are the data rows (0-based, header excluded).
    /// - Throws: `badLine` naming the line (1-based, header is line 1) for a
    ///   wrong field count, a non-numeric or non-finite value, a non-integer
    ///   label or id; `malformed` for a missing label column or an empty file.
    /// - Complexity: O(file size).
    public static func load(_ path: String, labelColumn: String = "label", idColumn: String = "id") throws -> LabeledData {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError.malformed(path: path, reason: "not UTF-8 text")
        }
        return try parse(text, path: path, labelColumn: labelColumn, idColumn: idColumn)
    }

    /// Parses CSV text (see `load`); `path` names it in errors.
    public static func parse(_ text: String, path: String, labelColumn: String = "label", idColumn: String = "id") throws -> LabeledData {
        var lines = try records(text, path: path)
        guard let header = lines.first else { throw DataError.malformed(path: path, reason: "empty file (a header line is required)") }
        lines.removeFirst()
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let labelIndex = names.firstIndex(of: labelColumn) else {
            throw DataError.badLine(path: path, line: 1, reason: "no column named '\(labelColumn)' in the header (columns: \(names.joined(separator: ", ")))")
        }
        let idIndex = names.firstIndex(of: idColumn)
        let featureIndices = names.indices.filter { $0 != labelIndex && $0 != idIndex }
        guard !featureIndices.isEmpty else { throw DataError.badLine(path: path, line: 1, reason: "no feature columns besides '\(labelColumn)'") }
        guard !lines.isEmpty else { throw DataError.malformed(path: path, reason: "a header but no data lines") }
        let n = lines.count, d = featureIndices.count
        var x = Matrix(rows: n, columns: d)
        var labels: [Int] = [], ids: [Int] = []
        labels.reserveCapacity(n)
        for (r, record) in lines.enumerated() {
            guard record.fields.count == names.count else {
                throw DataError.badLine(path: path, line: record.line, reason: "\(record.fields.count) fields, the header has \(names.count)")
            }
            func integer(_ k: Int, _ what: String) throws -> Int {
                let s = record.fields[k].trimmingCharacters(in: .whitespaces)
                if let v = Int(s) { return v }
                if let v = Double(s), v.isFinite, v == v.rounded(), abs(v) < 1e15 { return Int(v) }
                throw DataError.badLine(path: path, line: record.line, reason: "\(what) '\(s)' (column '\(names[k])') is not an integer")
            }
            labels.append(try integer(labelIndex, "label"))
            ids.append(try idIndex.map { try integer($0, "id") } ?? r)
            for (c, k) in featureIndices.enumerated() {
                let s = record.fields[k].trimmingCharacters(in: .whitespaces)
                guard let v = Double(s) else {
                    throw DataError.badLine(path: path, line: record.line, reason: "'\(s)' in column '\(names[k])' is not a number")
                }
                guard v.isFinite else {
                    throw DataError.badLine(path: path, line: record.line, reason: "non-finite value '\(s)' in column '\(names[k])'")
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

    struct Record { var fields: [String]; var line: Int }

    /// Splits text into records of fields (RFC 4180 quoting), skipping blank
    /// lines; each record remembers the line it starts on.
    static func records(_ text: String, path: String) throws -> [Record] {
        var out: [Record] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1, recordLine = 1
        var afterQuote = false
        var chars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) {
                out.append(Record(fields: fields, line: recordLine))
            }
            fields = []; field = ""
        }
        while let c = pending ?? chars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = next }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.trimmingCharacters(in: .whitespaces).isEmpty, !afterQuote else {
                    throw DataError.badLine(path: path, line: line, reason: "a quote inside an unquoted field")
                }
                field = ""; inQuotes = true
            case ",":
                fields.append(field); field = ""; afterQuote = false
            case "\n":
                endRecord(); line += 1; recordLine = line; afterQuote = false
            case "\r":
                continue
            default:
                if afterQuote && c != " " { throw DataError.badLine(path: path, line: line, reason: "text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw DataError.badLine(path: path, line: recordLine, reason: "a quoted field is not closed before the end of the file") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return out
    }
}
