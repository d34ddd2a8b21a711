import Foundation

/// A progress bar on standard error: redrawn in place on a terminal, a line per
/// 10% otherwise (CI logs, pipes), so long operations always show they are alive.
/// Without a total (an export whose size is not known) it shows the running
/// count and rate, a line every 5 seconds when standard error is not a terminal.
final class ProgressBar {
    private var total: Int?
    private let unit: String
    private let format: (Int) -> String
    private let isTerminal = isatty(FileHandle.standardError.fileDescriptor) != 0
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private var lastDecile = -1

    /// - Parameter format: how amounts are written (counts by default; `Format.bytes` for files).
    init(total: Int?, unit: String, format: @escaping (Int) -> String = Format.count) {
        self.total = total.map { max(1, $0) }
        self.unit = unit
        self.format = format
    }

    func update(_ done: Int, force: Bool = false) {
        let now = ContinuousClock.now
        let elapsed = (now - started).seconds
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let unitText = unit.isEmpty ? "" : " \(unit)"
        guard let total else {
            let text = "\(format(done))\(unitText)  \(format(Int(rate)))/s"
            if isTerminal {
                guard force || now - lastDraw > .milliseconds(100) else { return }
                lastDraw = now
                FileHandle.standardError.write(Data("\r  \(text)\u{1B}[K".utf8))
            } else {
                guard force || now - lastDraw > .seconds(5) else { return }
                lastDraw = now
                FileHandle.standardError.write(Data("  \(text)\n".utf8))
            }
            return
        }
        let fraction = min(1, Double(done) / Double(total))
        let text = "\(format(done))/\(format(total))\(unitText)  \(format(Int(rate)))/s"
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

    /// Shows the final count (as 100% when there is a total, whatever the estimate was).
    func finish(_ done: Int) {
        if total != nil { total = max(1, done) }
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
