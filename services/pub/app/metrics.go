package app

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics implements follow.Observer and publish.Observer.
type metrics struct {
	published  prometheus.Counter
	sendFailed prometheus.Counter
	reconnects *prometheus.CounterVec
	resets     *prometheus.CounterVec
	skipped    *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	last       *prometheus.GaugeVec
	conns      prometheus.Gauge
	accepted   prometheus.Counter

	mu sync.Mutex
	up map[string]bool
}

func newMetrics(reg *prometheus.Registry) *metrics {
	// Store names come from the store's configuration: a bounded label.
	m := &metrics{
		published:  prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_pub_events_published_total", Help: "Events handed to the PUB socket."}),
		sendFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_pub_send_errors_total", Help: "Events the PUB socket refused (drops at a subscriber's high-water mark are not observable in libzmq)."}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mp_pub_stream_reconnects_total", Help: "Event streams resumed after breaking, by store."}, []string{"store"}),
		resets:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mp_pub_epoch_resets_total", Help: "Store epoch changes followed, by store."}, []string{"store"}),
		skipped:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mp_pub_skipped_events_total", Help: "Seqs evicted or replaced before they could be published, by store."}, []string{"store"}),
		lag:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mp_pub_lag_events", Help: "Store head seq minus the last published seq, by store."}, []string{"store"}),
		last:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mp_pub_last_seq", Help: "Last published seq, by store."}, []string{"store"}),
		conns:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "mp_pub_connections", Help: "Subscriber connections open on the PUB socket."}),
		accepted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_pub_connections_accepted_total", Help: "Subscriber connections accepted by the PUB socket."}),
		up:         map[string]bool{},
	}
	reg.MustRegister(m.published, m.sendFailed, m.reconnects, m.resets, m.skipped, m.lag, m.last, m.conns, m.accepted)
	return m
}

func (m *metrics) follow(store string) {
	// The store's counters start at zero, so rates and alerts have a
	// baseline before the first break or skip.
	m.reconnects.WithLabelValues(store)
	m.resets.WithLabelValues(store)
	m.skipped.WithLabelValues(store)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.up[store] = false
}

func (m *metrics) streamsDown() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, up := range m.up {
		if !up {
			n++
		}
	}
	return n
}

func (m *metrics) Connected(store string, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.up[store] = up
}
func (m *metrics) Reconnect(store string)         { m.reconnects.WithLabelValues(store).Inc() }
func (m *metrics) EpochReset(store string)        { m.resets.WithLabelValues(store).Inc() }
func (m *metrics) Skipped(store string, n uint64) { m.skipped.WithLabelValues(store).Add(float64(n)) }
func (m *metrics) Published(n int)                { m.published.Add(float64(n)) }
func (m *metrics) SendFailed()                    { m.sendFailed.Inc() }
func (m *metrics) Accepted()                      { m.conns.Inc(); m.accepted.Inc() }
func (m *metrics) Disconnected()                  { m.conns.Dec() }
func (m *metrics) Position(store string, last, head uint64) {
	m.lag.WithLabelValues(store).Set(float64(head - last))
	m.last.WithLabelValues(store).Set(float64(last))
}
