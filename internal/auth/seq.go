package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Gap is a skip in a device's event sequence numbers: after Expected-1 the
// device uploaded Got, so the events numbered Expected to Got-1 are
// missing (lost, deleted or withheld on the device).
type Gap struct {
	DeviceID string `json:"device"`
	UserID   string `json:"user"`
	Expected int64  `json:"expected"`
	Got      int64  `json:"got"`
}

// ObserveSeq records the sequence numbers (the events' seq) of one batch
// that deviceID uploaded, and returns the gaps it opens. The store keeps
// the highest number seen (Device.LastSeq); a number above LastSeq+1 is a
// gap, counted in Device.SeqGaps, and numbers at or below LastSeq are
// re-sends, ignored. A batch is taken in ascending order whatever its
// order, so a batch that holds every number has no gap. Each gap's
// alert.device.seq_gap event goes into the outbox in the same
// transaction, so it reaches the log (RelayOutbox) even when the batch
// that opened the gap does not. Concurrent calls for the same device are
// serialized: the device's row is read for update. It returns ErrNotFound for an unknown device.
func (s *Store) ObserveSeq(ctx context.Context, deviceID string, seqs []int64) ([]Gap, error) {
	id, ok := normalizeID(deviceID)
	if !ok {
		return nil, fmt.Errorf("observe sequence of device %q: %w", deviceID, ErrNotFound)
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	sorted := slices.Sorted(slices.Values(seqs))
	var gaps []Gap
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		gaps = nil // from an earlier attempt
		var (
			user string
			last int64
		)
		err := tx.QueryRowContext(ctx, `SELECT user_email, last_seq FROM devices WHERE id = ?`+tx.Dialect().ForUpdate(), id).Scan(&user, &last)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		high := last
		for _, seq := range sorted {
			if seq <= high {
				continue
			}
			if seq > high+1 {
				gaps = append(gaps, Gap{DeviceID: id, UserID: user, Expected: high + 1, Got: seq})
			}
			high = seq
		}
		if high == last {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_seq = ?, seq_gaps = seq_gaps + ? WHERE id = ?`, high, len(gaps), id); err != nil {
			return err
		}
		// The alerts commit with the numbers that raise them: whatever
		// becomes of the batch, a gap once recorded is never raised
		// again, so it must not be lost either.
		now := s.now()
		for _, g := range gaps {
			if err := s.audit(ctx, tx, "alert.device.seq_gap", now, schema.Fields{
				"user": g.UserID, "device": g.DeviceID, "expected": g.Expected, "got": g.Got,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("observe sequence of device %s: %w", id, err)
	}
	return gaps, nil
}
