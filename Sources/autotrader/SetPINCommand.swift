import ArgumentParser
import AutoTraderCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct SetPINCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-pin",
        abstract: "Change the dashboard PIN (6–12 digits, not one digit repeated, not a run such as 123456).",
        discussion: """
            The new PIN is read from the terminal (typed twice, not shown) or, when input is \
            not a terminal, from the first line of standard input: `echo 482193 | autotrader set-pin`. \
            It is never taken as an argument, so it can't leak into the shell history or the process list.
            """)

    @OptionGroup var databases: DatabaseOptions

    func run() throws {
        let pin: String
        if isatty(STDIN_FILENO) == 1 {
            let first = readSecret(prompt: "New PIN: ")
            let second = readSecret(prompt: "Repeat the new PIN: ")
            guard first == second else { throw ValidationError("the two PINs differ; nothing was changed") }
            pin = first
        } else {
            pin = (readLine(strippingNewline: true) ?? "").trimmingCharacters(in: .whitespaces)
        }
        let system = try databases.openSystem()
        try failing { try system.setPIN(pin) }
        print("PIN changed.")
    }

    private func readSecret(prompt: String) -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return (readLine(strippingNewline: true) ?? "").trimmingCharacters(in: .whitespaces)
    }
}
