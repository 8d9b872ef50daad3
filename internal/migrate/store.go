package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3/database"
)

// checksumStore is goose's Postgres store with the checksum bookkeeping added. goose calls
// Insert and Delete inside the migration's transaction, so the checksum row commits or
// rolls back with the migration and its version row. For a NO TRANSACTION file goose calls
// them on the bare connection after the statements ran; the two rows then get a
// transaction of their own, so they are still written together.
type checksumStore struct {
	database.Store
	files map[int64]migrationFile
}

var _ database.StoreExtender = (*checksumStore)(nil)

func newChecksumStore() (*checksumStore, error) {
	inner, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return nil, err
	}
	return &checksumStore{Store: inner}, nil
}

// TableExists keeps goose's catalog lookup for the version table; without it goose probes
// by querying the table and logs the error when it is missing.
func (s *checksumStore) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	if ext, ok := s.Store.(database.StoreExtender); ok {
		return ext.TableExists(ctx, db)
	}
	return false, errors.ErrUnsupported
}

func (s *checksumStore) Insert(ctx context.Context, db database.DBTxConn,
	req database.InsertRequest) error {
	if req.Version == 0 {
		return s.Store.Insert(ctx, db, req)
	}
	f, ok := s.files[req.Version]
	if !ok {
		return fmt.Errorf("recording version %d: no migration file carries it", req.Version)
	}
	return inTx(ctx, db, func(q database.DBTxConn) error {
		if err := s.Store.Insert(ctx, q, req); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, insertChecksumSQL, f.Version, f.Name, f.SHA256)
		if err != nil {
			return fmt.Errorf("recording the checksum of %s: %w", f.Name, err)
		}
		return nil
	})
}

func (s *checksumStore) Delete(ctx context.Context, db database.DBTxConn, version int64) error {
	return inTx(ctx, db, func(q database.DBTxConn) error {
		if err := s.Store.Delete(ctx, q, version); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, deleteChecksumSQL, version); err != nil {
			return fmt.Errorf("deleting the checksum of version %d: %w", version, err)
		}
		return nil
	})
}

// inTx runs fn in the caller's transaction when db is one, else in a new transaction on
// the connection.
func inTx(ctx context.Context, db database.DBTxConn, fn func(database.DBTxConn) error) error {
	conn, ok := db.(*sql.Conn)
	if !ok {
		return fn(db)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}
