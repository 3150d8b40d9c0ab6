/// The bytes one page of a list may take, besides its count of items.
///
/// A page of 1,000 devices can hold 130 KB each (labels, metadata and text at their
/// caps, every character escaped), and a page of 10,000 string points 64 KiB each: the
/// item limits alone let one read cost gigabytes. A budgeted statement returns items in
/// order while their size so far stays under `bytes`, so a page holds at least one item
/// and at most `bytes` plus one item; the caller continues from the last item with its
/// cursor. The database measures, so what it sends (and what libpq keeps) is bounded too.
///
/// Sizes are the JSON of registry text (escapes included) and the stored bytes of point
/// strings: their size is known without reading them, escaping them is not, so a page
/// of strings made of control characters can be up to 6× the budget as JSON.
///
/// The page's query selects its item's JSON size in a column named `item_bytes`; the
/// wrapper goes around it, with the page's order (code-chosen, never client text, naming
/// the inner query's columns):
///
///     let (head, tail) = PageBudget.wrapper(orderBy: "id")
///     "\(unsafeSQL: head) SELECT ..., <size> AS item_bytes FROM ... ORDER BY id LIMIT n \(unsafeSQL: tail)"
///
/// Three columns follow the inner query's own: `item_bytes`, the bytes before each item
/// and the number of items the inner query found (`truncated` compares it with the rows
/// returned).
public enum PageBudget {
    /// 4 MiB of JSON items per page.
    public static let bytes = 4 << 20

    public static func wrapper(orderBy order: String) -> (head: String, tail: String) {
        (
            """
            SELECT * FROM (SELECT page.*,
                sum(page.item_bytes) OVER (ORDER BY \(order) ROWS UNBOUNDED PRECEDING) - page.item_bytes AS bytes_before,
                count(*) OVER () AS candidates FROM (
            """,
            ") page) budgeted WHERE bytes_before < \(bytes) ORDER BY \(order)"
        )
    }

    /// Whether the budget cut the page short of what the inner query found.
    public static func truncated(_ result: PostgresResult) throws -> Bool {
        guard let first = result.first else { return false }
        let candidates: Int64 = try first.decode(result.columnCount - 1)
        return candidates > result.rowCount
    }
}
