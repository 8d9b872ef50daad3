package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/pressly/goose/v3/database"
)

// checksumRow is one row of ChecksumTable.
type checksumRow struct {
	File       string
	SHA256     string
	AppliedAt  time.Time
	Backfilled bool
}

// dbState is what the database records about the migrations.
type dbState struct {
	versionTable  bool
	checksumTable bool
	applied       map[int64]time.Time // version -> when goose recorded it
	sums          map[int64]checksumRow
}

// readState reads both bookkeeping tables without locking anything; each is read in one
// statement, and a version and its checksum are committed together.
func readState(ctx context.Context, q database.DBTxConn) (*dbState, error) {
	st := &dbState{applied: map[int64]time.Time{}, sums: map[int64]checksumRow{}}
	err := q.QueryRowContext(ctx, tablesExistSQL).Scan(&st.versionTable, &st.checksumTable)
	if err != nil {
		return nil, fmt.Errorf("looking for the migration tables: %w", err)
	}
	if st.versionTable {
		err := scanRows(ctx, q, appliedVersionsSQL, func(rows *sql.Rows) error {
			var v int64
			var at time.Time
			if err := rows.Scan(&v, &at); err != nil {
				return err
			}
			st.applied[v] = at.UTC()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading applied versions: %w", err)
		}
	}
	if st.checksumTable {
		err := scanRows(ctx, q, checksumsSQL, func(rows *sql.Rows) error {
			var v int64
			var r checksumRow
			if err := rows.Scan(&v, &r.File, &r.SHA256, &r.AppliedAt, &r.Backfilled); err != nil {
				return err
			}
			st.sums[v] = r
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading checksums: %w", err)
		}
	}
	return st, nil
}

// scanRows runs query and calls scan for each row.
func scanRows(ctx context.Context, q database.DBTxConn, query string,
	scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (st *dbState) maxApplied() int64 {
	var m int64
	for v := range st.applied {
		m = max(m, v)
	}
	return m
}

func (st *dbState) appliedVersions() []int64 {
	vs := make([]int64, 0, len(st.applied))
	for v := range st.applied {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// mismatches compares every applied version that has a recorded checksum with the files,
// and reports applied versions that no file carries.
func (st *dbState) mismatches(files map[int64]migrationFile) []Mismatch {
	var latest int64
	for v := range files {
		latest = max(latest, v)
	}
	var out []Mismatch
	for _, v := range st.appliedVersions() {
		f, haveFile := files[v]
		sum, haveSum := st.sums[v]
		switch {
		case !haveFile:
			name := sum.File
			if name == "" {
				name = fmt.Sprintf("version %d", v)
			}
			out = append(out, Mismatch{
				Version: v, File: name, Problem: "missing", Recorded: sum.SHA256,
				NewerRelease: v > latest,
			})
		case haveSum && sum.SHA256 != f.SHA256:
			out = append(out, Mismatch{
				Version: v, File: f.Name, Problem: "edited",
				Recorded: sum.SHA256, Current: f.SHA256,
			})
		}
	}
	return out
}

// outOfOrder returns the pending files with a version below the highest applied one, up
// to and including target.
func (st *dbState) outOfOrder(files map[int64]migrationFile, target int64) []FileRef {
	top := st.maxApplied()
	var out []FileRef
	for v, f := range files {
		if _, ok := st.applied[v]; !ok && v < top && v <= target {
			out = append(out, FileRef{Version: v, File: f.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}
