/// The live streams' own parameters, as clients send them.
public enum StreamParameters {
    /// An event id from `Last-Event-ID` or `resume_from`: 1 to 19 ASCII digits that fit
    /// an Int64; nil for anything else.
    public static func eventID(_ text: String) -> Int64? {
        let utf8 = text.utf8
        guard (1...19).contains(utf8.count), utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Int64(text)
    }

    /// A `label=key:value` selector: split at the first colon, the key not empty, at
    /// most 300 bytes in all; nil otherwise.
    public static func label(_ text: String) -> (key: String, value: String)? {
        guard text.utf8.count <= 300, let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
