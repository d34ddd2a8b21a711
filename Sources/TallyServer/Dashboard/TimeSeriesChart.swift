/// An inline SVG chart of a few series over the same buckets: lines, or stacked
/// bars. Server-rendered, no script: hovering a point or bar shows its value
/// through the SVG `<title>`.
struct TimeSeriesChart {
    enum Style { case lines, stackedBars }

    struct Series {
        var name: String
        /// One value per label; `nil` where there is no data (a gap in a line).
        var values: [Double?]
    }

    var title: String
    var unit: String = ""
    var labels: [String]
    var series: [Series]
    var style: Style = .lines

    static let palette = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]
    static let width = 640.0, height = 220.0
    static let left = 48.0, right = 12.0, top = 12.0, bottom = 28.0

    var svg: String {
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        let maxValue = self.maxValue
        let scaleMax = Self.niceCeiling(maxValue)
        let n = max(labels.count, 1)
        let step = plotWidth / Double(n)
        func x(_ i: Int) -> Double { Self.left + step * (Double(i) + 0.5) }
        func y(_ v: Double) -> Double { Self.top + plotHeight * (1 - (scaleMax > 0 ? v / scaleMax : 0)) }

        var out = #"<svg viewBox="0 0 \#(Int(Self.width)) \#(Int(Self.height))" role="img" aria-label="\#(HTML.escape(title))" class="chart">"#
        // Grid and y axis.
        for tick in 0...5 {
            let value = scaleMax * Double(tick) / 5
            let ty = y(value)
            out += #"<line x1="\#(Self.left)" x2="\#(Self.width - Self.right)" y1="\#(f(ty))" y2="\#(f(ty))" class="grid"/>"#
            out += #"<text x="\#(Self.left - 6)" y="\#(f(ty + 4))" class="axis" text-anchor="end">\#(Self.short(value))</text>"#
        }
        // X labels, thinned to about eight.
        let every = max(1, Int((Double(n) / 8).rounded(.up)))
        for (i, label) in labels.enumerated() where i % every == 0 {
            out += #"<text x="\#(f(x(i)))" y="\#(Self.height - 8)" class="axis" text-anchor="middle">\#(HTML.escape(label))</text>"#
        }
        if series.allSatisfy({ $0.values.allSatisfy { ($0 ?? 0) == 0 } }) {
            out += #"<text x="\#(Self.width / 2)" y="\#(Self.height / 2)" class="empty" text-anchor="middle">no data in this range</text>"#
        }
        switch style {
        case .lines:
            for (s, line) in series.enumerated() {
                let color = Self.palette[s % Self.palette.count]
                var path = "", penDown = false
                for (i, value) in line.values.enumerated() {
                    guard let value else { penDown = false; continue }
                    path += "\(penDown ? "L" : "M")\(f(x(i))) \(f(y(value))) "
                    penDown = true
                }
                out += #"<path d="\#(path)" fill="none" stroke="\#(color)" stroke-width="2"/>"#
                for (i, value) in line.values.enumerated() {
                    guard let value else { continue }
                    out += #"<circle cx="\#(f(x(i)))" cy="\#(f(y(value)))" r="2.5" fill="\#(color)"><title>\#(HTML.escape(line.name)) \#(HTML.escape(labels[i])): \#(Self.exact(value))\#(unitSuffix)</title></circle>"#
                }
            }
        case .stackedBars:
            let barWidth = max(1, step * 0.7)
            for i in 0..<labels.count {
                var base = 0.0
                for (s, bars) in series.enumerated() {
                    let value = bars.values[i] ?? 0
                    guard value > 0 else { continue }
                    let y0 = y(base), y1 = y(base + value)
                    out += #"<rect x="\#(f(x(i) - barWidth / 2))" y="\#(f(y1))" width="\#(f(barWidth))" height="\#(f(max(0.5, y0 - y1)))" fill="\#(Self.palette[s % Self.palette.count])"><title>\#(HTML.escape(bars.name)) \#(HTML.escape(labels[i])): \#(Self.exact(value))\#(unitSuffix)</title></rect>"#
                    base += value
                }
            }
        }
        out += "</svg>"
        return out
    }

    /// The chart with its title and legend, as a card.
    var html: String {
        var legend = ""
        for (s, line) in series.enumerated() {
            legend += #"<span class="key"><i style="background:\#(Self.palette[s % Self.palette.count])"></i>\#(HTML.escape(line.name))</span>"#
        }
        return #"<figure class="card"><figcaption>\#(HTML.escape(title))\#(unit.isEmpty ? "" : " (\(HTML.escape(unit)))")</figcaption>\#(svg)<div class="legend">\#(legend)</div></figure>"#
    }

    private var unitSuffix: String { unit.isEmpty ? "" : " " + HTML.escape(unit) }

    private var maxValue: Double {
        switch style {
        case .lines: series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        case .stackedBars: (0..<labels.count).map { i in series.reduce(0) { $0 + ($1.values[i] ?? 0) } }.max() ?? 0
        }
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where magnitude * factor >= value { return magnitude * factor }
        return magnitude * 10
    }

    static func short(_ value: Double) -> String {
        switch value {
        case 1_000_000...: return trim(value / 1_000_000) + "M"
        case 1_000...: return trim(value / 1_000) + "k"
        default: return trim(value)
        }
    }

    static func exact(_ value: Double) -> String { trim(value) }

    static func trim(_ value: Double) -> String {
        if value == value.rounded() { return String(Int(value)) }
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }

    private func f(_ value: Double) -> String { Self.fixed(value) }

    static func fixed(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}

enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
