package kube

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Bounds of the Events imdsd writes on pods.
const (
	// eventComponent is the Events' source (what `kubectl describe pod` shows).
	eventComponent = "imdsd"
	// eventDedup is how long one pod+reason is recorded once.
	eventDedup = 10 * time.Minute
	// maxEventKeys bounds the dedup memory; past it, new pod+reason pairs
	// are dropped (and counted in the log) until old ones expire.
	maxEventKeys = 4096
	// eventQueue bounds the Events waiting to be written: Event never blocks
	// a request on the API server.
	eventQueue   = 256
	eventTimeout = 5 * time.Second
)

type podEvent struct {
	pod             Pod
	reason, message string
	at              time.Time
}

// eventSink writes Warning Events on pods in the background.
type eventSink struct {
	client kubernetes.Interface
	node   string
	now    func() time.Time
	log    *slog.Logger
	queue  chan podEvent

	mu   chan struct{} // a one-slot lock, so add never blocks for long
	seen map[string]time.Time
}

func newEventSink(c kubernetes.Interface, node string, now func() time.Time, log *slog.Logger) *eventSink {
	return &eventSink{client: c, node: node, now: now, log: log, queue: make(chan podEvent, eventQueue), mu: make(chan struct{}, 1), seen: map[string]time.Time{}}
}

// add queues an Event unless the same pod+reason was recorded within
// eventDedup, or the queue or the dedup memory is full.
func (s *eventSink) add(p Pod, reason, message string) {
	now := s.now()
	key := p.UID + "/" + reason
	s.mu <- struct{}{}
	last, dup := s.seen[key]
	if dup && now.Sub(last) < eventDedup {
		<-s.mu
		return
	}
	if !dup && len(s.seen) >= maxEventKeys {
		for k, t := range s.seen {
			if now.Sub(t) >= eventDedup {
				delete(s.seen, k)
			}
		}
		if len(s.seen) >= maxEventKeys {
			<-s.mu
			s.log.Warn("kubernetes event dropped: too many recent events", "namespace", p.Namespace, "pod", p.Name, "reason", reason)
			return
		}
	}
	s.seen[key] = now
	<-s.mu
	select {
	case s.queue <- podEvent{pod: p, reason: reason, message: message, at: now}:
	default:
		s.log.Warn("kubernetes event dropped: queue full", "namespace", p.Namespace, "pod", p.Name, "reason", reason)
	}
}

func (s *eventSink) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.queue:
			if err := s.write(ctx, e); err != nil && ctx.Err() == nil {
				s.log.Warn("kubernetes event not recorded", "namespace", e.pod.Namespace, "pod", e.pod.Name, "reason", e.reason, "err", err)
			}
		}
	}
}

func (s *eventSink) write(ctx context.Context, e podEvent) error {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	ts := metav1.NewTime(e.at)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: e.pod.Namespace,
			Name:      fmt.Sprintf("%s.%x", e.pod.Name, e.at.UnixNano()),
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1",
			Namespace: e.pod.Namespace, Name: e.pod.Name, UID: types.UID(e.pod.UID),
		},
		Reason:              e.reason,
		Message:             e.message,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: eventComponent, Host: s.node},
		FirstTimestamp:      ts,
		LastTimestamp:       ts,
		Count:               1,
		ReportingController: eventComponent,
		ReportingInstance:   eventComponent + "-" + s.node,
	}
	if _, err := s.client.CoreV1().Events(e.pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create event %s on pod %s/%s: %w", e.reason, e.pod.Namespace, e.pod.Name, err)
	}
	return nil
}
