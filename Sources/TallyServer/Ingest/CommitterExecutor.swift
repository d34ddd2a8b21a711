import Dispatch

/// Runs the group committer's loop and its writes on a queue of their own
/// instead of the cooperative pool.
///
/// Between two group commits the loop hears that the last one committed,
/// takes the next group and hands it to the store. On the cooperative pool
/// each of those steps queued behind the requests being parsed (two threads on
/// two cores), and the SQLite writer stood idle meanwhile: 12–16% of its time
/// under load. The queue is concurrent: the loop is one task, so its steps
/// still run one at a time, while two writes (PostgreSQL) encode side by side.
final class CommitterExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "tally.ingest.group-committer", qos: .userInitiated, attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
