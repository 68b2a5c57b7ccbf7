/// Ticker symbols for generated bars: real large-cap symbols first, then made-up valid ones.
enum BenchTickers {
    static let real: [String] = [
        "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B", "AVGO", "JPM",
        "LLY", "V", "UNH", "XOM", "MA", "JNJ", "PG", "HD", "COST", "ABBV",
        "MRK", "ORCL", "CVX", "BAC", "KO", "PEP", "NFLX", "CRM", "AMD", "ADBE",
        "WMT", "TMO", "LIN", "MCD", "ACN", "CSCO", "ABT", "DHR", "WFC", "DIS",
        "INTU", "TXN", "VZ", "AMGN", "CAT", "PM", "IBM", "NEE", "QCOM", "GE",
        "CMCSA", "UNP", "NOW", "SPGI", "HON", "ISRG", "BA", "AMAT", "COP", "LOW",
        "GS", "RTX", "PFE", "UBER", "T", "ELV", "PLD", "BKNG", "SBUX", "MS",
        "NKE", "BLK", "SYK", "MDT", "DE", "TJX", "LMT", "GILD", "ADP", "MMC",
        "CB", "VRTX", "ADI", "LRCX", "REGN", "C", "MDLZ", "SCHW", "PGR", "CI",
        "ETN", "BSX", "MU", "ZTS", "SO", "PANW", "FI", "BX", "SNPS", "KLAC",
    ]

    /// `count` distinct valid tickers.
    static func make(_ count: Int) -> [String] {
        var result = Array(real.prefix(count))
        var used = Set(result)
        var serial = 0
        while result.count < count {
            // "XA", "XB", … "XAA", …: upper-case letters only, so always a valid ticker.
            var name = ""
            var rest = serial
            repeat {
                name = String(UnicodeScalar(UInt8(65 + rest % 26))) + name
                rest = rest / 26 - 1
            } while rest >= 0
            serial += 1
            let ticker = "X" + name
            if used.insert(ticker).inserted { result.append(ticker) }
        }
        return result
    }
}
