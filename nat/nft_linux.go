package nat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// TableName is the name of imdsd's table, in the inet family:
// `nft list table inet imdsd` shows it.
const TableName = "imdsd"

// chainPriority runs the chain just before the usual dstnat chains
// (Docker's iptables-nft rules sit at -100), so another NAT rule for the
// same packet cannot take it first.
var chainPriority = nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest - 10)

// nftRuleset is the nftables ruleset, reached through netlink.
type nftRuleset struct {
	conn    *nftables.Conn
	connect func() (*nftables.Conn, error)
}

func newRuleset() (ruleset, error) {
	return newNftRuleset(func() (*nftables.Conn, error) { return nftables.New() })
}

func newNftRuleset(connect func() (*nftables.Conn, error)) (*nftRuleset, error) {
	c, err := connect()
	if err == nil {
		_, err = c.ListTablesOfFamily(nftables.TableFamilyINet)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%v): imdsd installs its container DNAT rules with "+
			"nftables; this host needs a kernel with nf_tables and nft_nat (modprobe nf_tables nft_nat) "+
			"and runs as root or with CAP_NET_ADMIN. A host whose firewall is iptables-legacy only must "+
			"install nftables (apt-get install nftables) or turn containers off (containers: {enabled: false})",
			ErrUnavailable, err)
	}
	return &nftRuleset{conn: c, connect: connect}, nil
}

func (r *nftRuleset) table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// Current returns the comments of the rules in imdsd's chain.
func (r *nftRuleset) Current() ([]string, bool, error) {
	t := r.table()
	tables, err := r.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, false, err
	}
	found := false
	for _, x := range tables {
		found = found || x.Name == TableName
	}
	if !found {
		return nil, false, nil
	}
	var out []string
	for _, c := range []struct {
		name string
		hook *nftables.ChainHook
	}{{chainName, nftables.ChainHookPrerouting}, {guardChain, nftables.ChainHookInput}} {
		ch, err := r.conn.ListChain(t, c.name)
		if err != nil || ch == nil || ch.Hooknum == nil || *ch.Hooknum != *c.hook {
			return nil, false, nil
		}
		rules, err := r.conn.GetRules(t, ch)
		if err != nil {
			return nil, false, err
		}
		for _, rl := range rules {
			c, _ := userdata.GetString(rl.UserData, userdata.TypeComment)
			out = append(out, c)
		}
	}
	return out, true, nil
}

// Apply replaces the table in one transaction: create it (a no-op when it
// exists), delete it, create it again with its chain and rules. Either all
// of it applies or nothing does.
func (r *nftRuleset) Apply(rules []Rule) error {
	t := r.table()
	r.conn.AddTable(t)
	r.conn.DelTable(t)
	r.conn.AddTable(t)
	nat := r.conn.AddChain(&nftables.Chain{
		Name:     chainName,
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPrerouting,
		Priority: chainPriority,
	})
	guard := r.conn.AddChain(&nftables.Chain{
		Name:     guardChain,
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
	})
	for _, rl := range rules {
		exprs, err := ruleExprs(rl)
		if err != nil {
			return err
		}
		ch := nat
		if rl.filter() {
			ch = guard
		}
		r.conn.AddRule(&nftables.Rule{
			Table:    t,
			Chain:    ch,
			Exprs:    exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, rl.String()),
		})
	}
	return r.flush()
}

// Remove deletes the table; a missing table is fine.
func (r *nftRuleset) Remove() error {
	t := r.table()
	r.conn.AddTable(t)
	r.conn.DelTable(t)
	return r.flush()
}

// flush sends the batch; on failure the connection is replaced, since a
// failed batch may leave messages queued.
func (r *nftRuleset) flush() error {
	if err := r.conn.Flush(); err != nil {
		if c, cerr := r.connect(); cerr == nil {
			r.conn = c
		}
		return err
	}
	return nil
}

func (r *nftRuleset) Close() error { return nil }

// ruleExprs compiles, for example,
//
//	iifname "docker0" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 172.17.0.1:9254
//	iifname "cali*" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.0.0.5:9254
//
// a guard rule, for example,
//
//	iifname != "docker0" ip daddr 172.17.0.1 tcp dport 9254 drop
//	ip daddr 10.0.0.5 tcp dport 9254 drop
//
// and an allow rule, for example,
//
//	iifname "cali*" ip daddr 10.0.0.5 tcp dport 9254 accept
func ruleExprs(r Rule) ([]expr.Any, error) {
	if !(r.Guard && r.Interface == "") {
		if err := ValidatePattern(r.Interface); err != nil {
			return nil, err
		}
	}
	if !r.filter() && r.Dest.Addr().Is4() != r.To.Addr().Is4() {
		return nil, errors.New("dnat across address families")
	}
	proto, daddrOffset, natFamily := byte(unix.NFPROTO_IPV4), uint32(16), uint32(unix.NFPROTO_IPV4)
	if r.Dest.Addr().Is6() {
		proto, daddrOffset, natFamily = unix.NFPROTO_IPV6, 24, unix.NFPROTO_IPV6
	}
	dst := r.Dest.Addr().AsSlice()
	var match []expr.Any
	if r.Interface != "" {
		ifOp := expr.CmpOpEq
		if r.Guard {
			ifOp = expr.CmpOpNeq
		}
		match = append(match,
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: ifOp, Register: 1, Data: ifnameData(r.Interface)},
		)
	}
	match = append(match,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: daddrOffset, Len: uint32(len(dst))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: dst},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port(r.Dest.Port())},
	)
	switch {
	case r.Guard:
		return append(match, &expr.Verdict{Kind: expr.VerdictDrop}), nil
	case r.Allow:
		return append(match, &expr.Verdict{Kind: expr.VerdictAccept}), nil
	}
	return append(match,
		&expr.Immediate{Register: 1, Data: r.To.Addr().AsSlice()},
		&expr.Immediate{Register: 2, Data: port(r.To.Port())},
		&expr.NAT{
			Type:        expr.NATTypeDestNAT,
			Family:      natFamily,
			RegAddrMin:  1,
			RegProtoMin: 2,
			Specified:   true,
		},
	), nil
}

// ifnameData is what iifname is compared with: the name padded with NULs
// to IFNAMSIZ for an exact match, or only the prefix's bytes (no NUL) for a
// pattern "cali+", which is how nft compiles iifname "cali*".
func ifnameData(pattern string) []byte {
	if prefix, ok := strings.CutSuffix(pattern, "+"); ok {
		return []byte(prefix)
	}
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, pattern)
	return b
}

func port(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }
