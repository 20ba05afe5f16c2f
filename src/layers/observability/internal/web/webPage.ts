/**
 * The live view's page: one HTML document whose script reads `GET /events` (Server-Sent Events) and draws with
 * lightweight-charts, served from this package's own dependency at `/assets/lightweight-charts.js` (no CDN: the
 * page works offline). Numbers arrive as exact strings and are shown as they are.
 */
export const webPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trading-bus</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; padding: 16px; background: #0f1419; color: #e6e6e6; }
  header { display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 20px; margin: 0; }
  .muted { color: #8a96a3; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 8px; margin: 12px 0; }
  .card { background: #1a2129; border-radius: 6px; padding: 8px 10px; }
  .card .label { font-size: 12px; color: #8a96a3; }
  .card .value { font-size: 18px; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: 2fr 1fr; gap: 8px; }
  .chart { height: 320px; background: #1a2129; border-radius: 6px; }
  .tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 8px; margin-top: 8px; }
  .tables > div { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #26303a; }
  .BUY, .LONG { color: #26a69a; } .SELL, .SHORT, .CLOSE { color: #ef5350; }
  .pos { color: #26a69a; } .neg { color: #ef5350; }
  h2 { font-size: 14px; margin: 8px 0 4px; }
</style>
</head>
<body>
<header>
  <h1>trading-bus</h1>
  <span id="connection" class="muted">connecting</span>
  <span class="muted">symbol <b id="symbol">-</b></span>
  <span class="muted">connections <b id="connections">0</b></span>
</header>
<section class="cards">
  <div class="card"><div class="label">data queue</div><div class="value" id="q-data">-</div></div>
  <div class="card"><div class="label">signal queue</div><div class="value" id="q-signal">-</div></div>
  <div class="card"><div class="label">order queue</div><div class="value" id="q-order">-</div></div>
  <div class="card"><div class="label">events handled</div><div class="value" id="processed">0</div></div>
  <div class="card"><div class="label">collector</div><div class="value" id="collector">-</div></div>
  <div class="card"><div class="label">circuit breaker</div><div class="value" id="breaker">-</div></div>
  <div class="card"><div class="label">realized P&amp;L</div><div class="value" id="realized">-</div></div>
  <div class="card"><div class="label">unrealized P&amp;L</div><div class="value" id="unrealized">-</div></div>
  <div class="card"><div class="label">signals / orders / fills</div><div class="value" id="counts">-</div></div>
</section>
<section class="charts">
  <div><h2>price</h2><div class="chart" id="price"></div></div>
  <div><h2>equity (P&amp;L, quote asset)</h2><div class="chart" id="equity"></div></div>
</section>
<section class="tables">
  <div><h2>positions</h2><table><thead><tr><th>symbol</th><th>quantity</th><th>entry</th><th>mark</th><th>realized</th><th>unrealized</th></tr></thead><tbody id="positions"></tbody></table></div>
  <div><h2>latest signals</h2><table><thead><tr><th>symbol</th><th>direction</th><th>price</th><th>reason</th></tr></thead><tbody id="signals"></tbody></table></div>
  <div><h2>latest orders</h2><table><thead><tr><th>event</th><th>side</th><th>quantity</th><th>symbol</th><th>price</th></tr></thead><tbody id="orders"></tbody></table></div>
  <div><h2>latest errors</h2><table><thead><tr><th>component</th><th>message</th></tr></thead><tbody id="errors"></tbody></table></div>
</section>
<script src="/assets/lightweight-charts.js"></script>
<script>
(() => {
  const LC = window.LightweightCharts
  const $ = (id) => document.getElementById(id)
  const chartOptions = (el) => ({
    width: el.clientWidth, height: el.clientHeight,
    layout: { background: { color: "#1a2129" }, textColor: "#c8d0d8" },
    grid: { vertLines: { color: "#222c36" }, horzLines: { color: "#222c36" } },
    timeScale: { timeVisible: true, secondsVisible: false }
  })
  const priceChart = LC.createChart($("price"), chartOptions($("price")))
  const candles = priceChart.addSeries(LC.CandlestickSeries, {})
  const markerLayer = LC.createSeriesMarkers(candles, [])
  const equityChart = LC.createChart($("equity"), chartOptions($("equity")))
  const equity = equityChart.addSeries(LC.LineSeries, { color: "#4fc3f7", lineWidth: 2 })
  addEventListener("resize", () => {
    for (const [chart, id] of [[priceChart, "price"], [equityChart, "equity"]]) chart.resize($(id).clientWidth, $(id).clientHeight)
  })

  const view = { connections: 0, messages: 0, lastEventId: null, resumedFrom: null, markers: [] }
  window.tradingBusView = view

  const rows = (id, items, cells) => {
    $(id).replaceChildren(...items.slice(-15).reverse().map((item) => {
      const tr = document.createElement("tr")
      for (const [text, cls] of cells(item)) {
        const td = document.createElement("td")
        td.textContent = text
        if (cls) td.className = cls
        tr.append(td)
      }
      return tr
    }))
  }
  const sign = (text) => (Number(text) < 0 ? "neg" : Number(text) > 0 ? "pos" : "")
  const lists = { signals: [], orders: [], errors: [] }
  const drawLists = () => {
    rows("signals", lists.signals, (s) => [[s.symbol], [s.direction, s.direction], [String(s.price)], [s.reason]])
    rows("orders", lists.orders, (o) => [[o.event], [o.side, o.side], [o.quantity], [o.symbol], [o.price]])
    rows("errors", lists.errors, (e) => [[e.component], [e.message]])
  }
  const drawMarkers = () => markerLayer.setMarkers(view.markers.map((m) => ({
    time: m.time, position: m.side === "BUY" ? "belowBar" : "aboveBar",
    color: m.side === "BUY" ? "#26a69a" : "#ef5350", shape: m.side === "BUY" ? "arrowUp" : "arrowDown",
    text: m.side === "BUY" ? "B" : "S"
  })))
  const status = (s) => {
    if (!s) return
    for (const q of ["data", "signal", "order"]) {
      const x = s.queues[q]
      $("q-" + q).textContent = x.size + "/" + x.capacity + " · " + x.perSecond + "/s"
    }
    $("processed").textContent = String(s.queues.data.processed + s.queues.signal.processed + s.queues.order.processed)
    $("collector").textContent = (s.collector.connected ? "connected" : "disconnected") + " · " + s.collector.messages
    $("breaker").textContent = s.breaker
    if (s.pnl) {
      $("realized").textContent = s.pnl.realized; $("realized").className = "value " + sign(s.pnl.realized)
      $("unrealized").textContent = s.pnl.unrealized; $("unrealized").className = "value " + sign(s.pnl.unrealized)
    }
    if (s.engine) $("counts").textContent = s.engine.signals + " / " + s.engine.orders + " / " + s.engine.fills
    if (s.symbol) $("symbol").textContent = s.symbol
    $("positions").replaceChildren(...s.positions.map((p) => {
      const tr = document.createElement("tr")
      for (const [text, cls] of [[p.symbol], [p.quantity], [p.averageEntryPrice], [p.markPrice], [p.realizedPnl, sign(p.realizedPnl)], [p.unrealizedPnl, sign(p.unrealizedPnl)]]) {
        const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.append(td)
      }
      return tr
    }))
    if (s.equity) equity.update(s.equity)
  }

  const on = (source, name, handle) => source.addEventListener(name, (event) => {
    view.messages++
    view.lastEventId = event.lastEventId
    handle(JSON.parse(event.data))
  })
  const connect = () => {
    const source = new EventSource("/events")
    view.source = source
    source.onopen = () => { view.connections++; $("connections").textContent = String(view.connections); $("connection").textContent = "live" }
    source.onerror = () => { $("connection").textContent = "reconnecting" }
    on(source, "snapshot", (s) => {
      view.resumedFrom = s.resumedFrom
      if (s.symbol) $("symbol").textContent = s.symbol
      candles.setData(s.candles)
      view.markers = s.markers.slice()
      drawMarkers()
      const points = []
      for (const p of s.equity) if (!points.length || p.time > points[points.length - 1].time) points.push(p)
      equity.setData(points)
      lists.signals = s.signals.slice(); lists.orders = s.orders.slice(); lists.errors = s.errors.slice()
      drawLists()
      status(s.status)
    })
    on(source, "status", status)
    on(source, "candle", (c) => candles.update(c))
    on(source, "marker", (m) => { view.markers.push(m); drawMarkers() })
    for (const [name, list] of [["signal", "signals"], ["order", "orders"], ["bus-error", "errors"]]) {
      on(source, name, (item) => { lists[list].push(item); if (lists[list].length > 50) lists[list].shift(); drawLists() })
    }
  }
  connect()
})()
</script>
</body>
</html>
`
