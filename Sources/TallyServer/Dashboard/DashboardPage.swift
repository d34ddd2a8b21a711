import Tally

/// `/dashboard` as one server-rendered HTML page: tiles, a chart per aggregate,
/// two tables and a range picker that is a plain GET form — no script, no CDN.
struct DashboardPage {
    let data: DashboardData
    let from: Timestamp
    let to: Timestamp
    let store: String

    var html: String {
        let labels = data.days.map { String($0.dateString.dropFirst(5)) }  // MM-DD
        func chart(_ title: String, _ series: [TimeSeriesChart.Series], unit: String = "", style: TimeSeriesChart.Style = .lines) -> String {
            TimeSeriesChart(title: title, unit: unit, labels: labels, series: series, style: style).html
        }
        let t = data.totals
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Tally — \(from.dateString) to \(to.adding(days: -1).dateString)</title>
            <style>\(Self.css)</style></head>
            <body>
            <header><h1>Tally</h1><span class="muted">\(HTML.escape(store))</span>\(rangePicker)</header>
            <section class="tiles">
            \(tile("DAU (latest day)", t.latestDAU.map(String.init)))
            \(tile("MAU (latest day)", t.latestMAU.map(String.init)))
            \(tile("tasks completed", String(t.tasksCompleted)))
            \(tile("task success rate", t.successRate.map { TimeSeriesChart.trim($0 * 100) + " %" }))
            \(tile("API requests", String(t.apiRequests)))
            \(tile("API p95", t.apiP95.map { TimeSeriesChart.trim($0) + " ms" }))
            \(tile("errors", String(t.errors)))
            </section>
            <section class="grid">
            \(chart("Active users (all services)", data.activeUsers))
            \(chart("Tasks finished per day", data.tasks, style: .stackedBars))
            \(chart("Task duration", data.taskDurations, unit: "ms"))
            \(chart("API latency per day", data.latency, unit: "ms"))
            \(chart("Errors per day by type", data.errors, style: .stackedBars))
            \(chart("Sign-ins and sessions", data.auth))
            \(chart("Cocoons", data.cocoons))
            \(routesTable)
            \(integrationsTable)
            </section>
            <footer class="muted">Aggregates are refreshed continuously; days touched by late events or erasures are recomputed. \
            API: <a href="/openapi.yaml">/openapi.yaml</a> · <a href="/metrics">/metrics</a></footer>
            </body></html>
            """
    }

    private var rangePicker: String {
        let presets = [7, 30, 90].map { days in
            #"<a href="/dashboard?days=\#(days)">\#(days) days</a>"#
        }.joined(separator: " ")
        return """
            <form method="get" action="/dashboard" class="range">\(presets)
            <label>from <input type="date" name="from" value="\(from.dateString)"></label>
            <label>to <input type="date" name="to" value="\(to.adding(days: -1).dateString)"></label>
            <button type="submit">show</button></form>
            """
    }

    private func tile(_ label: String, _ value: String?) -> String {
        #"<div class="tile"><b>\#(HTML.escape(value ?? "–"))</b><span>\#(HTML.escape(label))</span></div>"#
    }

    private var routesTable: String {
        let rows = data.routes.map { r in
            "<tr><td>\(HTML.escape(r.route))</td><td>\(r.requests)</td><td>\(r.p95.map { TimeSeriesChart.trim($0) } ?? "–")</td></tr>"
        }.joined()
        return """
            <figure class="card"><figcaption>Busiest API routes</figcaption><table><thead><tr><th>route</th><th>requests</th><th>p95 ms</th></tr></thead>
            <tbody>\(rows.isEmpty ? #"<tr><td colspan="3" class="muted">no API requests in this range</td></tr>"# : rows)</tbody></table></figure>
            """
    }

    private var integrationsTable: String {
        let rows = data.integrations.map { r in
            "<tr><td>\(HTML.escape(r.provider))</td><td>\(r.connected)</td><td>\(r.used)</td><td>\(r.errors)</td>"
                + "<td>\(r.errorRate.map { TimeSeriesChart.trim($0 * 100) + " %" } ?? "–")</td><td>\(r.oauthCompleted)/\(r.oauthStarted)</td></tr>"
        }.joined()
        return """
            <figure class="card"><figcaption>Integration health</figcaption><table><thead><tr><th>provider</th><th>connected</th><th>used</th>\
            <th>errors</th><th>error rate</th><th>OAuth done/started</th></tr></thead>
            <tbody>\(rows.isEmpty ? #"<tr><td colspan="6" class="muted">no integration activity in this range</td></tr>"# : rows)</tbody></table></figure>
            """
    }

    static let css = """
        body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:12px;padding:12px 20px;background:#fff;border-bottom:1px solid #e2e8f0}
        h1{font-size:20px;margin:0}.muted{color:#64748b}.range{margin-left:auto;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
        .range a{color:#2563eb;text-decoration:none;padding:2px 6px;border:1px solid #cbd5e1;border-radius:4px}
        .tiles{display:flex;flex-wrap:wrap;gap:12px;padding:16px 20px 0}
        .tile{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;min-width:120px}
        .tile b{display:block;font-size:22px}.tile span{color:#64748b;font-size:12px}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;padding:16px 20px}
        .card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;margin:0;padding:10px 12px}
        figcaption{font-weight:600;margin-bottom:4px}.chart{width:100%;height:auto}
        .grid line.grid,.chart .grid{stroke:#e2e8f0;stroke-width:1}.chart .axis{fill:#64748b;font-size:10px}
        .chart .empty{fill:#94a3b8;font-size:13px}.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;color:#334155}
        .key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #f1f5f9}
        th{color:#64748b;font-weight:500}footer{padding:0 20px 20px;font-size:12px}
        """
}
