import GRDB

// How a row's stored columns read back, in one place: each row type's `init(row:)` says which column is which.
extension Row {
    /// A time column (TEXT `YYYY-MM-DDTHH:MM:SSZ`). An unreadable one reads as the epoch: one bad row shows as
    /// 1970 on its card instead of failing every read of its table.
    func time(_ column: String) -> Timestamp {
        Timestamp(self[column] as String) ?? Timestamp(secondsSinceEpoch: 0)
    }

    /// A nullable time column: nil when NULL (not yet sent, still running, …) or unreadable.
    func optionalTime(_ column: String) -> Timestamp? {
        (self[column] as String?).flatMap { Timestamp($0) }
    }
}
