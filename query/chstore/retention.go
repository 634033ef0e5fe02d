package chstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DropExpired drops the months whose events are all older than the
// configured retention at now, from the events table, the user index and
// the rollup: whole partitions, which costs no rewrite. It returns how
// many partitions it dropped. With no retention it does nothing.
func (s *Store) DropExpired(ctx context.Context, now time.Time) (int, error) {
	if s.retention <= 0 {
		return 0, nil
	}
	if err := s.ready(ctx); err != nil {
		return 0, fmt.Errorf("drop expired: %w", err)
	}
	cutoff := now.Add(-s.retention).UTC()
	// A month may go when it ends at or before the cutoff.
	oldest := cutoff.Year()*100 + int(cutoff.Month()) // months before this one end before the cutoff
	dropped := 0
	for _, table := range partitioned {
		rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", s.dbName, table)
		if err != nil {
			return dropped, fmt.Errorf("drop expired: list partitions of %s: %w", table, err)
		}
		var months []int
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return dropped, fmt.Errorf("drop expired: list partitions of %s: %w", table, err)
			}
			m, err := strconv.Atoi(p)
			if err != nil || m < 100001 || m > 999912 {
				continue // not one of our YYYYMM partitions
			}
			if m < oldest {
				months = append(months, m)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return dropped, fmt.Errorf("drop expired: list partitions of %s: %w", table, err)
		}
		for _, m := range months {
			// The partition is a number this function just parsed, not text
			// from outside; ALTER takes no bound parameters.
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.db+"."+quoteIdent(table)+" DROP PARTITION "+strconv.Itoa(m)); err != nil {
				return dropped, fmt.Errorf("drop expired: %s partition %d: %w", table, m, err)
			}
			dropped++
		}
	}
	return dropped, nil
}
