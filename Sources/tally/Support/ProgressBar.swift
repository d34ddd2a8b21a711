import Foundation

/// A progress bar on standard error: redrawn in place on a terminal, a line per
/// 10% otherwise (CI logs, pipes), so long operations always show they are alive.
final class ProgressBar {
    private var total: Int
    private let unit: String
    private let isTerminal = isatty(FileHandle.standardError.fileDescriptor) != 0
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private var lastDecile = -1

    init(total: Int, unit: String) {
        self.total = max(1, total)
        self.unit = unit
    }

    func update(_ done: Int, force: Bool = false) {
        let now = ContinuousClock.now
        let fraction = min(1, Double(done) / Double(total))
        let elapsed = (now - started).seconds
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let text = "\(Format.count(done))/\(Format.count(total)) \(unit)  \(Format.count(Int(rate)))/s"
        if isTerminal {
            guard force || now - lastDraw > .milliseconds(100) else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(Int(fraction * 100))%  \(text)\u{1B}[K".utf8))
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("  \(decile * 10)%  \(text)\n".utf8))
        }
    }

    /// Shows the final count as 100%, whatever the estimate was.
    func finish(_ done: Int) {
        total = max(1, done)
        lastDecile = min(lastDecile, 9)
        update(done, force: true)
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

enum Format {
    /// 1234567 → "1,234,567".
    static func count(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}
