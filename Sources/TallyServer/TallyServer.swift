import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Tally

/// `tally serve` as a value: the HTTP routes over one backend, plus the services
/// that run beside them — the worker that replays spilled events, the aggregate
/// refresher and any lifecycle job — in one ServiceGroup. Shutdown runs in
/// reverse: the server stops accepting and finishes its requests, then the
/// refresher stops and the worker drains, then the store closes.
///
/// ```swift
/// let server = TallyServer(backend: backend, spill: queue, configuration: .init())
/// try await server.application().runService()
/// ```
public struct TallyServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var rateLimit = RateLimiter.Configuration()
        public var refresh: AggregateRefresher.Configuration = {
            var refresh = AggregateRefresher.Configuration()
            refresh.dirtyInterval = .seconds(30)  // a dashboard follows live traffic
            return refresh
        }()
        public var limits = EventLimits.default
        public var piiPolicy = PIIPolicy.default
        /// `nil`: the dashboard needs a read key unless `host` is a loopback address.
        public var dashboardRequiresKey: Bool?
        public var logger = Logger(label: "tally.serve")
        public init() {}

        /// Whether `/dashboard` asks for a read key: as configured, else unless the
        /// server listens on a loopback address only.
        public var dashboardNeedsKey: Bool {
            dashboardRequiresKey ?? !["127.0.0.1", "::1", "localhost"].contains(host)
        }
    }

    public let backend: ServerBackend
    public let configuration: Configuration
    public let registry: PrometheusCollectorRegistry
    let metrics: ServerMetrics
    /// Replays what ingest spilled while the store was down.
    public let pipeline: AnalyticsPipeline
    public let refresher: AggregateRefresher
    let spill: any DurableQueue
    /// Groups concurrent ingest requests into few store transactions.
    let committer: GroupCommitter

    /// - Parameters:
    ///   - spill: where accepted events go when the store fails; replayed by the worker.
    public init(backend: ServerBackend, spill: any DurableQueue, configuration: Configuration = Configuration(),
                registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.backend = backend
        self.configuration = configuration
        self.registry = registry
        self.spill = spill
        self.committer = Self.committer(for: backend.events)
        self.metrics = ServerMetrics(registry: registry)
        var pipeline = AnalyticsConfiguration(service: "tally-server", sink: backend.events)
        pipeline.durableQueue = spill
        pipeline.metricsFactory = metrics.factory
        pipeline.logger = Logger(label: "tally.worker")
        pipeline.retry.probeInterval = .seconds(2)
        self.pipeline = AnalyticsPipeline(configuration: pipeline)
        self.refresher = AggregateRefresher(store: backend.aggregates, configuration: configuration.refresh)
    }

    /// Stores that can encode outside their lock get the parallel path.
    static func committer(for store: any EventStore & EventQueries) -> GroupCommitter {
        if let preparing = store as? any PreparedWriteSink {
            return GroupCommitter(preparing: preparing)
        }
        return GroupCommitter(store: store as any EventSink)
    }

    /// Every route, with request logging and metrics.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestLogMiddleware(metrics: metrics))
        let access = KeyAuthenticator(store: backend.keys)
        let writer = IngestWriter(store: committer, spill: spill,
                                  spilled: { [client = pipeline.client] in client.durableQueueReceivedEvents() },
                                  logger: configuration.logger)
        IngestRoutes(access: access, rateLimiter: RateLimiter(configuration: configuration.rateLimit), writer: writer,
                     metrics: metrics, limits: configuration.limits, policy: configuration.piiPolicy).register(on: router)
        MetricsRoutes(access: access, aggregates: backend.aggregates).register(on: router)
        EventRoutes(access: access, events: backend.events).register(on: router)
        PrivacyRoutes(access: access, events: backend.events, spill: spill, client: pipeline.client, refresher: refresher)
            .register(on: router)
        DashboardRoutes(access: access, aggregates: backend.aggregates, storeDescription: backend.description,
                        requiresKey: configuration.dashboardNeedsKey).register(on: router)
        OperationsRoutes(backend: backend, metrics: metrics).register(on: router)
        return router
    }

    /// The application: the routes and, before the HTTP server in the group,
    /// `services` (e.g. a database pool, a lifecycle job), the worker and the refresher.
    public func application(services: [any Service] = [],
                            onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tally"),
            services: services + backend.services + [pipeline.worker, refresher, committer],
            onServerRunning: onServerRunning,
            logger: configuration.logger)
    }
}
