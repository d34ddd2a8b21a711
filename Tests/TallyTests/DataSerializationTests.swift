import Tally
import TallyTesting
import Testing

@Suite("The data column's JSON text")
struct DataSerializationTests {
    static let time = Timestamp(iso8601: "2026-11-23T10:00:00Z")!

    @Test("serializeData writes exactly the bytes of serializing data, for every catalogue event", arguments: CatalogueExamples.all)
    func sameBytes(event: AnalyticsEvent) {
        let enriched = CatalogueExamples.event(event, at: Self.time)
        var bytes: [UInt8] = []
        enriched.serializeData(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == JSONValue.object(enriched.data).serialized())
    }

    @Test("an empty context is left out, a rich one is kept, and a changed context is not served from the cache")
    func contexts() {
        var event = CatalogueExamples.event(.authLogout, at: Self.time, context: EventContext())
        var bytes: [UInt8] = []
        event.serializeData(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"properties":{}}"#)

        event.context = EventContext(libraryName: "tally-swift", locale: "de-DE", extra: ["device": ["model": "Pixel 9"]])
        _ = event.context.serializedJSON
        event.context.locale = "fr-FR"
        bytes.removeAll()
        event.serializeData(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == JSONValue.object(event.data).serialized())
        #expect(String(decoding: bytes, as: UTF8.self).contains("fr-FR"))
    }
}
