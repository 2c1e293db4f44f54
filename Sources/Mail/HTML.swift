import Foundation

/// The small amount of HTML this module writes: escaping and link detection.
public enum HTML {
    /// Escapes text for an HTML element or a quoted attribute value.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// The ranges of `http://` and `https://` links in a text. A link ends at
    /// whitespace, a quote or an angle bracket; trailing punctuation is not
    /// part of it.
    public static func links(in text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var searchStart = text.startIndex
        while searchStart < text.endIndex,
            let start = Self.nextLinkStart(in: text, from: searchStart)
        {
            var end = start
            while end < text.endIndex, !Self.endsLink(text[end]) {
                end = text.index(after: end)
            }
            while end > start, ".,;:!?)]}".contains(text[text.index(before: end)]) {
                end = text.index(before: end)
            }
            let range = start..<end
            if text[range].hasSuffix("://") == false {
                ranges.append(range)
            }
            searchStart = end > start ? end : text.index(after: start)
        }
        return ranges
    }

    /// Escapes a text and turns its http(s) links into clickable anchors.
    public static func linkify(_ text: String) -> String {
        var result = ""
        var position = text.startIndex
        for range in Self.links(in: text) {
            result += Self.escape(String(text[position..<range.lowerBound]))
            let link = Self.escape(String(text[range]))
            result += "<a href=\"\(link)\" rel=\"noopener noreferrer\">\(link)</a>"
            position = range.upperBound
        }
        result += Self.escape(String(text[position...]))
        return result
    }

    private static func nextLinkStart(in text: String, from index: String.Index) -> String.Index? {
        let rest = text[index...]
        let http = rest.range(of: "http://", options: .caseInsensitive)?.lowerBound
        let https = rest.range(of: "https://", options: .caseInsensitive)?.lowerBound
        switch (http, https) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }

    private static func endsLink(_ character: Character) -> Bool {
        character.isWhitespace || "<>\"'`".contains(character)
    }
}
