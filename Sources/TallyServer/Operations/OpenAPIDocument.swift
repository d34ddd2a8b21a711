/// The OpenAPI 3.1 description of every route, served at `/openapi.yaml`.
/// Kept by hand next to the routes; a test checks that it names every route the router has.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Tally
  version: "1"
  description: |
    Privacy-first product analytics. Ingest is compatible with Segment's HTTP tracking API,
    so Segment and RudderStack SDKs work unchanged when pointed at this server.
    Keys look like tally_<scope>_<id>_<secret> and are created with `tally keys create`.
    Send one as the HTTP Basic user name with an empty password, or as a Bearer token.
    A write key can only send events, a read key can only query, an admin key can query and answer privacy requests.
components:
  securitySchemes:
    basic: {type: http, scheme: basic, description: "The key as the user name, empty password."}
    bearer: {type: http, scheme: bearer}
  parameters:
    from: {name: from, in: query, schema: {type: string}, description: "Start (inclusive): a day 2026-11-01 or an ISO-8601 time. Defaults to 30 days before to."}
    to: {name: to, in: query, schema: {type: string}, description: "End: a day (inclusive of that whole day) or an ISO-8601 time (exclusive). Defaults to the end of today."}
    service: {name: service, in: query, schema: {type: string}}
  schemas:
    Error:
      type: object
      properties: {error: {type: object, properties: {code: {type: string}, message: {type: string}}}}
    IngestResult:
      type: object
      properties:
        success: {type: boolean, description: "false when some events were rejected (the others are stored)"}
        received: {type: integer}
        accepted: {type: integer, description: "valid events, durable when this response is sent"}
        stored: {type: integer, description: "newly stored (accepted minus duplicates)"}
        duplicates: {type: integer, description: "already stored: same messageId and timestamp"}
        queued: {type: integer, description: "present instead of stored when the store was down: in the durable queue, stored on recovery"}
        rejected: {type: array, items: {type: object, properties: {index: {type: integer}, messageId: {type: string}, event: {type: string}, field: {type: string}, code: {type: string}, message: {type: string}}}}
  responses:
    Error: {description: "What was wrong and what to do", content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
security: [{basic: []}, {bearer: []}]
paths:
  /v1/batch:
    post:
      summary: Send up to 500 KB of messages of any type (Segment batch)
      description: |
        Body {"batch": [message, ...], "context": {...}, "sentAt": "...", "writeKey": "..."}. The batch context is merged under
        each message's own. messageId is the dedupe key (non-UUID ids are mapped deterministically). When sentAt is given and
        the device clock is more than a minute off, timestamp is corrected by receivedAt - sentAt, rounded to whole minutes so
        retries still dedupe. context.ip and context.traits are dropped: no IP address is stored.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/track:
    post:
      summary: Send one track message (Segment track)
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/identify:
    post:
      summary: Send one identify message (Segment identify)
      description: Stored as a custom event named "identify" whose properties carry the call's fields.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/page:
    post:
      summary: Send one page message (Segment page)
      description: Stored as a custom event named "page" whose properties carry the call's fields.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/screen:
    post:
      summary: Send one screen message (Segment screen)
      description: Stored as a custom event named "screen" whose properties carry the call's fields.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/group:
    post:
      summary: Send one group message (Segment group)
      description: Stored as a custom event named "group" whose properties carry the call's fields.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/alias:
    post:
      summary: Send one alias message (Segment alias)
      description: Stored as a custom event named "alias" whose properties carry the call's fields.
      security: [{basic: []}, {bearer: []}, {}]
      requestBody: {required: true, content: {application/json: {schema: {type: object}}}, description: "JSON, optionally Content-Encoding: gzip; at most 500 KB, 32 KB per message; writeKey may be in the body."}
      responses:
        "200": {description: "Accepted events are durable; invalid ones are listed by index", content: {application/json: {schema: {$ref: "#/components/schemas/IngestResult"}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
        "403": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "429": {description: "Over the key's rate; retry after Retry-After seconds", headers: {Retry-After: {schema: {type: integer}}}}
        "503": {description: "Neither the store nor the durable queue could take the events; nothing was accepted", headers: {Retry-After: {schema: {type: integer}}}}
  /v1/metrics/active-users:
    get:
      summary: "Daily, weekly and monthly active users per day and service (service '*' counts every service together)."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: service, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/tasks:
    get:
      summary: "Task counts, success rate and duration p50/p95 per day and service, with range percentiles from the daily sketches."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: service, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/api-latency:
    get:
      summary: "Requests, 4xx/5xx and latency p50/p95/p99/max per hour, service, method and route, with range percentiles."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: service, in: query, schema: {type: string}}
        - {name: method, in: query, schema: {type: string}}
        - {name: route, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/integrations:
    get:
      summary: "Integration health per day and provider."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: provider, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/auth:
    get:
      summary: "Authentication events per day and service."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: service, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/cocoons:
    get:
      summary: "Cocoon activity per day."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/metrics/errors:
    get:
      summary: "Errors per hour, service and error type."
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: service, in: query, schema: {type: string}}
        - {name: error_type, in: query, schema: {type: string}}
      responses:
        "200": {description: "rows (and for tasks and api-latency a summary over the range)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
        "401": {$ref: "#/components/responses/Error"}
  /v1/trends:
    get:
      summary: Count or unique users of one event type per hour, day or week, optionally broken down by one property (top N values)
      parameters:
        - {name: event, in: query, required: true, schema: {type: string}}
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: interval, in: query, schema: {type: string, enum: [hour, day, week], default: day}}
        - {name: measure, in: query, schema: {type: string, enum: [count, unique_users], default: count}}
        - {name: breakdown, in: query, schema: {type: string}, description: "a top-level property name"}
        - {name: limit, in: query, schema: {type: integer, default: 10, maximum: 100}, description: "with a breakdown, the values with the most events"}
        - $ref: "#/components/parameters/service"
      responses:
        "200": {description: "points: bucket, value (and breakdown_value)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
  /v1/events:
    get:
      summary: Raw events, oldest first, paged by cursor
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: user_id, in: query, schema: {type: string}, description: "matches user_id or anonymous_id"}
        - {name: event, in: query, schema: {type: string}}
        - $ref: "#/components/parameters/service"
        - {name: limit, in: query, schema: {type: integer, default: 100, maximum: 1000}}
        - {name: cursor, in: query, schema: {type: string}, description: "next_cursor of the previous page"}
      responses:
        "200": {description: "events (Segment-shaped) and next_cursor (null on the last page)", content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Error"}
  /v1/export:
    get:
      summary: Every matching event, streamed as NDJSON or CSV
      parameters:
        - $ref: "#/components/parameters/from"
        - $ref: "#/components/parameters/to"
        - {name: user_id, in: query, schema: {type: string}, description: "matches user_id or anonymous_id"}
        - {name: event, in: query, schema: {type: string}}
        - $ref: "#/components/parameters/service"
        - {name: format, in: query, schema: {type: string, enum: [ndjson, csv], default: ndjson}}
      responses:
        "200": {description: "streamed", content: {application/x-ndjson: {}, text/csv: {}}}
        "400": {$ref: "#/components/responses/Error"}
  /v1/users/{id}:
    delete:
      summary: Erase a user (admin key). Deletes every raw event with this user_id or anonymous_id and recomputes the aggregates of the days they touched.
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: "deleted_events (stored), deleted_queued_events (still in the spill queue) and days_recomputed", content: {application/json: {schema: {type: object}}}}
        "403": {$ref: "#/components/responses/Error"}
  /v1/users/{id}/events:
    get:
      summary: Everything stored about a user (admin key), streamed as NDJSON or CSV
      parameters: [{name: id, in: path, required: true, schema: {type: string}}, {name: format, in: query, schema: {type: string, enum: [ndjson, csv]}}]
      responses:
        "200": {description: "streamed", content: {application/x-ndjson: {}, text/csv: {}}}
  /dashboard:
    get:
      summary: HTML dashboard with an SVG chart per aggregate (no key on a loopback-only server, else a read key by HTTP Basic)
      security: [{basic: []}, {}]
      parameters: [{name: days, in: query, schema: {type: integer, default: 30}}, {$ref: "#/components/parameters/from"}, {$ref: "#/components/parameters/to"}]
      responses: {"200": {description: HTML, content: {text/html: {}}}}
  /healthz:
    get:
      summary: The process is up
      security: [{}]
      responses: {"200": {description: OK}}
  /readyz:
    get:
      summary: The store is reachable and migrated (503 otherwise)
      security: [{}]
      responses: {"200": {description: OK}}
  /metrics:
    get:
      summary: Prometheus metrics
      security: [{}]
      responses: {"200": {description: OK}}
  /openapi.yaml:
    get:
      summary: This document
      security: [{}]
      responses: {"200": {description: OK}}
"""#
}
