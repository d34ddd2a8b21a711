import Synchronization
import Tally
import TallyDevice
import TallyTesting
import Testing

@Suite("Write effects after a mutation")
struct WriteEffectCoordinatorTests {
    struct EffectFailed: Error {}

    /// A stand-in for app code: the mutation commits, then dispatches its effects.
    final class TaskRepository: Sendable {
        let tasks = Mutex<[String]>([])
        let effects: WriteEffectCoordinator
        let slowEffectGate: AsyncStream<Void>

        init(effects: WriteEffectCoordinator, slowEffectGate: AsyncStream<Void>) {
            self.effects = effects
            self.slowEffectGate = slowEffectGate
        }

        func createTask(_ title: String, enqueue: EnqueueAnalyticsEventUseCase) -> String {
            let id = "t_\(tasks.withLock { $0.count + 1 })"
            tasks.withLock { $0.append(title) }
            effects.dispatch("search_index.update") { throw EffectFailed() }
            effects.dispatch("webhook.notify") { [slowEffectGate] in
                for await _ in slowEffectGate { return }
            }
            effects.dispatch("analytics.task_created") {
                _ = try await enqueue.execute(AnalyticsEvent.taskCreated(taskID: id, projectID: nil, cocoonID: nil, command: "make"))
            }
            return id
        }
    }

    @Test("a failing effect and a slow effect do not change the mutation's result")
    func failureAndSlowness() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let coordinator = WriteEffectCoordinator()
        let services = RunningServices([coordinator])
        let (gate, openGate) = AsyncStream.makeStream(of: Void.self)
        let repository = TaskRepository(effects: coordinator, slowEffectGate: gate)

        let id = AnalyticsContext.$current.withValue(AnalyticsContext(userID: "u_ctx_9")) {
            repository.createTask("write the release notes", enqueue: fixture.enqueue())
        }

        // The mutation returned its result while the slow effect is still blocked.
        #expect(id == "t_1")
        #expect(repository.tasks.withLock { $0 } == ["write the release notes"])
        #expect(await eventually { coordinator.statistics.failed == 1 && coordinator.statistics.succeeded == 1 })
        #expect(coordinator.statistics.running == 1, "the slow effect is still running")
        // The analytics effect ran with the dispatching code's context.
        let row = try #require(try await fixture.queue.peek(limit: 10).first)
        #expect(row.event.name == "task_created")
        #expect(row.event.userID == "u_ctx_9")

        openGate.yield()
        #expect(await eventually { coordinator.statistics.succeeded == 2 })
        try await services.shutDown()
        let statistics = coordinator.statistics
        #expect(statistics.dispatched == 3 && statistics.succeeded == 2 && statistics.failed == 1 && statistics.dropped == 0)
    }

    @Test("no more than maxConcurrentEffects run at once", arguments: [1, 4])
    func concurrencyBound(limit: Int) async throws {
        var configuration = WriteEffectCoordinator.Configuration()
        configuration.maxConcurrentEffects = limit
        let coordinator = WriteEffectCoordinator(configuration: configuration)
        let services = RunningServices([coordinator])
        let gauge = Mutex((current: 0, max: 0, finished: 0))

        for i in 0..<40 {
            coordinator.dispatch("effect \(i)") {
                gauge.withLock { $0.current += 1; $0.max = max($0.max, $0.current) }
                try await Task.sleep(for: .milliseconds(20))
                gauge.withLock { $0.current -= 1; $0.finished += 1 }
            }
        }

        #expect(await eventually { gauge.withLock { $0.finished } == 40 })
        try await services.shutDown()
        let observed = gauge.withLock { $0.max }
        #expect(observed <= limit)
        #expect(observed == limit, "40 effects of 20 ms each fill every slot")
        #expect(coordinator.statistics.succeeded == 40)
    }

    @Test("beyond the backlog, effects are dropped and counted")
    func backlogOverflow() async throws {
        var configuration = WriteEffectCoordinator.Configuration()
        configuration.backlogCapacity = 10
        let coordinator = WriteEffectCoordinator(configuration: configuration)
        let ran = Mutex<[Int]>([])

        // Not running yet, so nothing drains the backlog.
        for i in 0..<15 {
            coordinator.dispatch("effect \(i)") { ran.withLock { $0.append(i) } }
        }
        #expect(coordinator.statistics.dispatched == 10)
        #expect(coordinator.statistics.dropped == 5)
        #expect(coordinator.statistics.backlog == 10)

        let services = RunningServices([coordinator])
        #expect(await eventually { coordinator.statistics.succeeded == 10 })
        try await services.shutDown()
        #expect(ran.withLock { $0.sorted() } == Array(0..<10), "the first ten ran; the five beyond the backlog never did")
    }

    @Test("graceful shutdown runs every queued effect before run() returns")
    func shutdownDrains() async throws {
        var configuration = WriteEffectCoordinator.Configuration()
        configuration.maxConcurrentEffects = 2
        configuration.drainTimeout = .seconds(30)
        let coordinator = WriteEffectCoordinator(configuration: configuration)
        let ran = Mutex(0)
        for i in 0..<50 {
            coordinator.dispatch("effect \(i)") {
                try await Task.sleep(for: .milliseconds(5))
                ran.withLock { $0 += 1 }
            }
        }
        let services = RunningServices([coordinator])

        try await services.shutDown()

        #expect(ran.withLock { $0 } == 50)
        #expect(coordinator.statistics.succeeded == 50 && coordinator.statistics.dropped == 0)
        // After shutdown, effects are refused (and counted), never run.
        coordinator.dispatch("too late") { ran.withLock { $0 += 1_000 } }
        #expect(coordinator.statistics.dropped == 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(ran.withLock { $0 } == 50)
    }

    @Test("the drain is bounded: at the timeout, running effects are cancelled and the rest dropped")
    func drainTimeout() async throws {
        var configuration = WriteEffectCoordinator.Configuration()
        configuration.maxConcurrentEffects = 1
        configuration.drainTimeout = .milliseconds(200)
        let coordinator = WriteEffectCoordinator(configuration: configuration)
        let services = RunningServices([coordinator])
        coordinator.dispatch("hangs") { try await Task.sleep(for: .seconds(3_600)) }
        for i in 0..<5 {
            coordinator.dispatch("waits \(i)") {}
        }
        #expect(await eventually { coordinator.statistics.running == 1 })

        try await services.shutDown()

        let statistics = coordinator.statistics
        #expect(statistics.failed == 1, "the hanging effect was cancelled")
        #expect(statistics.dropped == 5, "the queued ones were abandoned")
        #expect(statistics.running == 0 && statistics.backlog == 0)
    }
}
