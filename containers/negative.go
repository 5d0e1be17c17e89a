package containers

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// negativeMax bounds the number of addresses remembered as unknown, so that
// a scan of many addresses cannot grow memory without bound; the oldest
// entry is dropped first.
const negativeMax = 4096

// negativeTTL is the longest an address stays remembered as unknown. It is
// short: a container whose address is listed only after its first request
// waited MissWait out (rare, but engines publish network settings after the
// process starts) is then refused only until its SDK's next attempt a few
// seconds later, while a host or VM that is no container still waits and
// lists at most once per negativeTTL instead of on every request.
const negativeTTL = 5 * time.Second

// negative remembers the addresses that a full miss wait did not find
// while every engine answered, so that a host or VM that is no container
// is refused at once instead of waiting MissWait and listing every engine
// on each of its requests. Any change in what the engines run clears it
// (see clear), and an entry lasts at most ttl.
type negative struct {
	ttl time.Duration
	max int
	now func() time.Time // the clock; time.Now but in tests

	mu    sync.Mutex
	gen   uint64 // counts clears
	byKey map[netip.Addr]*list.Element
	order *list.List // of negEntry, oldest first
}

type negEntry struct {
	addr  netip.Addr
	added time.Time
}

func newNegative(ttl time.Duration, size int) *negative {
	return &negative{
		ttl:   ttl,
		max:   size,
		now:   time.Now,
		byKey: make(map[netip.Addr]*list.Element),
		order: list.New(),
	}
}

// has reports whether addr is remembered as unknown. An entry older than
// ttl is dropped.
func (n *negative) has(addr netip.Addr) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	el, ok := n.byKey[addr]
	if !ok {
		return false
	}
	if n.now().Sub(el.Value.(negEntry).added) >= n.ttl {
		n.remove(el)
		return false
	}
	return true
}

// generation returns a value that changes whenever the cache is cleared:
// read it before the find whose miss is to be remembered, and pass it to
// add.
func (n *negative) generation() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gen
}

// add remembers addr as unknown, unless the cache was cleared since gen
// was read: the engines' view changed after the miss was decided, and the
// address may now be known (or about to be).
func (n *negative) add(addr netip.Addr, gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if gen != n.gen {
		return
	}
	if el, ok := n.byKey[addr]; ok {
		n.remove(el)
	}
	for n.order.Len() >= n.max {
		n.remove(n.order.Front())
	}
	n.byKey[addr] = n.order.PushBack(negEntry{addr: addr, added: n.now()})
}

// clear forgets every entry. The engines call it when what they run may
// have changed: a container or network started, a list found an address
// that was not known, an engine became unreachable.
func (n *negative) clear() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen++
	if n.order.Len() == 0 {
		return
	}
	n.byKey = make(map[netip.Addr]*list.Element)
	n.order.Init()
}

func (n *negative) size() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.order.Len()
}

func (n *negative) remove(el *list.Element) {
	delete(n.byKey, el.Value.(negEntry).addr)
	n.order.Remove(el)
}
