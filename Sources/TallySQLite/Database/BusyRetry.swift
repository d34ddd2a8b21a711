import Foundation
import GRDB

/// Runs `body`, again every 10 ms while SQLite answers "busy", for up to
/// `seconds`. For the cases where SQLite answers at once without its busy wait:
/// a statement on a file another process is still creating, and a checkpoint
/// while another connection's checkpoint runs.
func retryingWhileBusy<T>(for seconds: Double, _ body: () throws -> T) throws -> T {
    let deadline = ContinuousClock.now.advanced(by: .seconds(seconds))
    while true {
        do {
            return try body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
