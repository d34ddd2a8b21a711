import Dispatch

/// Runs the group committer's loop and its writes' bookkeeping on a serial
/// queue of their own instead of the cooperative pool.
///
/// Between two group commits the loop hears that the last one committed,
/// takes the next group and hands it to the store. On the cooperative pool
/// each of those steps queued behind the requests being parsed (two threads on
/// two cores), and the SQLite writer stood idle meanwhile: 12–16% of its time
/// under load. The steps are short, so one queue serves them all.
final class CommitterExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "tally.ingest.group-committer", qos: .userInitiated)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
