/// Exact percentiles with linear interpolation between the two nearest ranks,
/// as PostgreSQL's `percentile_cont`.
public enum Percentile {
    /// - Parameter sorted: values in ascending order.
    public static func continuous(_ p: Double, sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}
