import AutoTraderCore
import Foundation


/// Hashes that are the same in every process (Swift's `Hasher` is seeded per run, which would break determinism).
enum StableHash {
    /// FNV-1a over the UTF-8 bytes.
    static func of(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Folds several keys into one seed.
    static func mix(_ values: UInt64...) -> UInt64 {
        var result: UInt64 = 0x5151_D0D0_0000_0001
        for value in values {
            var generator = SplitMix64(seed: result ^ (value &* 0x9E37_79B9_7F4A_7C15))
            result = generator.next()
        }
        return result
    }

    /// A version-4-shaped UUID whose bits come from `seed` (stable asset and account ids).
    static func uuid(_ seed: UInt64) -> String {
        var generator = SplitMix64(seed: seed)
        return uuid(from: &generator)
    }

    static func uuid(from generator: inout SplitMix64) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let high = generator.next(), low = generator.next()
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (8 * index))
            bytes[index + 8] = UInt8(truncatingIfNeeded: low >> (8 * index))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let chars = Array(hex)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
            + String(chars[16..<20]) + "-" + String(chars[20..<32])
    }
}
