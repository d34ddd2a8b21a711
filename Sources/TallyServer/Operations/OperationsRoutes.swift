import Hummingbird
import Tally

/// `/healthz`, `/readyz`, `/metrics`, `/openapi.yaml`: for load balancers,
/// orchestrators, Prometheus and API clients. None needs a key.
struct OperationsRoutes: Sendable {
    let backend: ServerBackend
    let metrics: ServerMetrics

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONResponse.make(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            do {
                try await backend.checkReady()
                return JSONResponse.make(["status": "ready", "store": .string(backend.description)])
            } catch {
                return JSONResponse.make(["status": "not_ready", "store": .string(backend.description), "reason": .string("\(error)")],
                                         status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            metrics.registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
    }
}
