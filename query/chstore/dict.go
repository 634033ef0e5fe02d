package chstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The dictionary codes the identifiers that repeat across events (users,
// devices, store and object ids, shared folders) as UInt32: on 18.16
// (LZ4, no codecs) a 32-hex id costs 16 bytes per row as binary and a
// LowCardinality of tens of thousands of values more than that, where a
// code costs at most 4 and, in the sort order of the events table, often
// almost nothing.
//
// Two tables hold it, one per direction: strings (id -> value, ordered by
// id) for reading events, string_ids (value -> id, ordered by value) for
// coding and for filters. Writers assign the codes. Each takes a block of
// codes from string_blocks (see reserve), so two writers never hand out
// the same code; a value first seen by two writers at once may get two
// codes. Filters look every code of a value up, so they stay exact; a
// writer that finds its new value already coded by another records the
// pair in string_aliases, which rankings use to count the value once.

// blockSize is how many codes a writer takes at a time.
const blockSize = 4096

// maxCached bounds each cache; a full cache starts over.
const maxCached = 1 << 21

type dict struct {
	conn driver.Conn
	db   string // quoted

	mu    sync.Mutex // guards the writer's state below
	codes map[string]uint32
	// complete: codes holds every value stored when it was loaded, so
	// a value it lacks is new unless another writer coded it since
	// (which the read-back after storing finds).
	complete  bool
	loaded    bool
	next, end uint32 // the writer's block: next free code, end exclusive
	token     string

	rmu    sync.RWMutex
	values map[uint32]string
}

func newDict(conn driver.Conn, db string) *dict {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &dict{conn: conn, db: db, codes: map[string]uint32{}, values: map[uint32]string{}, token: hex.EncodeToString(b[:])}
}

// encode returns the codes of values, assigning and storing new ones.
func (d *dict) encode(ctx context.Context, values []string) (map[string]uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		if err := d.load(ctx); err != nil {
			return nil, err
		}
	}
	out := make(map[string]uint32, len(values))
	var missing []string
	for _, v := range values {
		if _, ok := out[v]; ok {
			continue
		}
		if c, ok := d.codes[v]; ok {
			out[v] = c
			continue
		}
		out[v] = 0
		missing = append(missing, v)
	}
	if len(missing) == 0 {
		return out, nil
	}
	found := map[string][]uint32{}
	if !d.complete {
		var err error
		if found, err = d.lookup(ctx, missing); err != nil {
			return nil, err
		}
	}
	var fresh []string
	for _, v := range missing {
		if cs := found[v]; len(cs) > 0 {
			out[v] = slices.Min(cs)
			continue
		}
		fresh = append(fresh, v)
	}
	if len(fresh) > 0 {
		ids := make([]uint32, len(fresh))
		for i := range fresh {
			if d.next == d.end {
				if err := d.reserve(ctx); err != nil {
					return nil, err
				}
			}
			ids[i] = d.next
			d.next++
		}
		if err := d.store(ctx, fresh, ids); err != nil {
			return nil, err
		}
		// Another writer may have coded some of the same values at the
		// same time: use the smallest code, and record the others.
		again, err := d.lookup(ctx, fresh)
		if err != nil {
			return nil, err
		}
		var alias, canon []uint32
		for i, v := range fresh {
			cs := again[v]
			if !slices.Contains(cs, ids[i]) {
				cs = append(cs, ids[i])
			}
			m := slices.Min(cs)
			out[v] = m
			for _, c := range cs {
				if c != m {
					alias, canon = append(alias, c), append(canon, m)
				}
			}
		}
		if len(alias) > 0 {
			if err := d.storeAliases(ctx, alias, canon); err != nil {
				return nil, err
			}
		}
	}
	if len(d.codes)+len(missing) > maxCached {
		d.codes = make(map[string]uint32, len(missing))
		d.complete = false
	}
	for _, v := range missing {
		d.codes[v] = out[v]
	}
	return out, nil
}

// load reads the dictionary into the writer's cache when it fits, so
// that coding a batch needs no look-up of the values seen before.
func (d *dict) load(ctx context.Context) error {
	var n uint64
	if err := d.conn.QueryRow(ctx, "SELECT count() FROM "+d.db+".string_ids").Scan(&n); err != nil {
		return fmt.Errorf("load dictionary: %w", err)
	}
	d.loaded = true
	if n > maxCached/2 {
		return nil // too big: look values up as they come
	}
	rows, err := d.conn.Query(ctx, "SELECT value, min(id) FROM "+d.db+".string_ids GROUP BY value")
	if err != nil {
		return fmt.Errorf("load dictionary: %w", err)
	}
	codes := make(map[string]uint32, n)
	for rows.Next() {
		var v string
		var id uint32
		if err := rows.Scan(&v, &id); err != nil {
			rows.Close()
			return fmt.Errorf("load dictionary: %w", err)
		}
		codes[v] = id
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("load dictionary: %w", err)
	}
	d.codes, d.complete = codes, true
	return nil
}

// lookup returns every code each value has.
func (d *dict) lookup(ctx context.Context, values []string) (map[string][]uint32, error) {
	out := map[string][]uint32{}
	for len(values) > 0 {
		chunk := values[:min(lookupChunk, len(values))]
		values = values[len(chunk):]
		tctx, err := withList(ctx, "String", chunk)
		if err != nil {
			return nil, fmt.Errorf("look up codes: %w", err)
		}
		rows, err := d.conn.Query(tctx, "SELECT value, id FROM "+d.db+".string_ids WHERE value IN "+listTable)
		if err != nil {
			return nil, fmt.Errorf("look up codes: %w", err)
		}
		for rows.Next() {
			var v string
			var id uint32
			if err := rows.Scan(&v, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up codes: %w", err)
			}
			if !slices.Contains(out[v], id) {
				out[v] = append(out[v], id)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("look up codes: %w", err)
		}
	}
	return out, nil
}

// codesOf returns every code of one value, for a filter; none when the
// value was never stored.
func (d *dict) codesOf(ctx context.Context, value string) ([]uint32, error) {
	m, err := d.lookup(ctx, []string{value})
	if err != nil {
		return nil, err
	}
	return m[value], nil
}

func (d *dict) store(ctx context.Context, values []string, ids []uint32) error {
	for _, t := range []struct{ table, cols string }{{"strings", "id, value"}, {"string_ids", "value, id"}} {
		b, err := d.conn.PrepareBatch(ctx, "INSERT INTO "+d.db+"."+t.table+" ("+t.cols+")")
		if err != nil {
			return fmt.Errorf("store codes: %w", err)
		}
		for i, v := range values {
			if t.table == "strings" {
				err = b.Append(ids[i], v)
			} else {
				err = b.Append(v, ids[i])
			}
			if err != nil {
				_ = b.Abort()
				return fmt.Errorf("store codes: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("store codes: %w", err)
		}
	}
	return nil
}

func (d *dict) storeAliases(ctx context.Context, alias, canon []uint32) error {
	b, err := d.conn.PrepareBatch(ctx, "INSERT INTO "+d.db+".string_aliases (id, canonical)")
	if err != nil {
		return fmt.Errorf("store code aliases: %w", err)
	}
	for i := range alias {
		if err := b.Append(alias[i], canon[i]); err != nil {
			_ = b.Abort()
			return fmt.Errorf("store code aliases: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("store code aliases: %w", err)
	}
	return nil
}

// aliases returns the codes that stand for a value with a smaller code,
// and that code: usually none.
func (d *dict) aliases(ctx context.Context) (from, to []uint32, err error) {
	rows, err := d.conn.Query(ctx, "SELECT id, min(canonical) FROM "+d.db+".string_aliases GROUP BY id")
	if err != nil {
		return nil, nil, fmt.Errorf("read code aliases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, c uint32
		if err := rows.Scan(&a, &c); err != nil {
			return nil, nil, fmt.Errorf("read code aliases: %w", err)
		}
		from, to = append(from, a), append(to, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read code aliases: %w", err)
	}
	return from, to, nil
}

// reserve takes the next free block of codes. A writer inserts its claim
// on the block after the highest one, then reads the block's claims back:
// of two writers claiming one block, the one that reads second sees the
// other's claim, so at most one finds only its own and keeps the block;
// a writer that sees another claim tries again after a random pause.
func (d *dict) reserve(ctx context.Context) error {
	for try := 0; ; try++ {
		var top uint32
		if err := d.conn.QueryRow(ctx, "SELECT toUInt32(max(start)) FROM "+d.db+".string_blocks").Scan(&top); err != nil {
			return fmt.Errorf("reserve codes: %w", err)
		}
		start := uint32(firstCode)
		if top >= firstCode {
			start = top + blockSize
		}
		if start < top {
			return errors.New("reserve codes: no codes left")
		}
		if err := d.conn.Exec(ctx, "INSERT INTO "+d.db+".string_blocks (start, token) SELECT toUInt32(?), ?", start, d.token); err != nil {
			return fmt.Errorf("reserve codes: %w", err)
		}
		var others uint64
		if err := d.conn.QueryRow(ctx, "SELECT count() FROM "+d.db+".string_blocks WHERE start = ? AND token != ?", start, d.token).Scan(&others); err != nil {
			return fmt.Errorf("reserve codes: %w", err)
		}
		if others == 0 {
			d.next, d.end = start, start+blockSize
			return nil
		}
		if try == 20 {
			return errors.New("reserve codes: other writers keep taking the same block")
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(50))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10+n.Int64()) * time.Millisecond):
		}
	}
}

// decode returns the values of codes, reading those it has not cached.
func (d *dict) decode(ctx context.Context, codes []uint32) (func(uint32) (string, error), error) {
	local := make(map[uint32]string, len(codes))
	var missing []uint32
	d.rmu.RLock()
	for _, c := range codes {
		if c < firstCode {
			continue
		}
		if _, ok := local[c]; ok {
			continue
		}
		if v, ok := d.values[c]; ok {
			local[c] = v
			continue
		}
		local[c] = ""
		missing = append(missing, c)
	}
	d.rmu.RUnlock()
	for todo := missing; len(todo) > 0; {
		chunk := todo[:min(lookupChunk, len(todo))]
		todo = todo[len(chunk):]
		tctx, err := withList(ctx, "UInt32", chunk)
		if err != nil {
			return nil, fmt.Errorf("read codes: %w", err)
		}
		rows, err := d.conn.Query(tctx, "SELECT id, value FROM "+d.db+".strings WHERE id IN "+listTable)
		if err != nil {
			return nil, fmt.Errorf("read codes: %w", err)
		}
		for rows.Next() {
			var id uint32
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read codes: %w", err)
			}
			local[id] = v
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("read codes: %w", err)
		}
	}
	if len(missing) > 0 {
		d.rmu.Lock()
		if len(d.values)+len(missing) > maxCached {
			d.values = make(map[uint32]string, len(missing))
		}
		for _, c := range missing {
			if v := local[c]; v != "" {
				d.values[c] = v
			}
		}
		d.rmu.Unlock()
	}
	return func(c uint32) (string, error) {
		v, ok := local[c]
		if !ok || v == "" {
			return "", fmt.Errorf("code %d is not in the dictionary", c)
		}
		return v, nil
	}, nil
}
