// Package postgres opens a PostgreSQL database through pgx, for deployments
// where several server nodes share one database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/wache/wache/internal/store/sqldb"
)

// Open connects to the database at url (postgres://…). The connection
// string may set search_path to keep Wache's tables in their own schema.
func Open(ctx context.Context, url string) (*sqldb.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Keep every connection idle-able: a pool that closes connections under
	// load forks a new PostgreSQL backend per request.
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &sqldb.DB{W: db, R: db, Dialect: Dialect}, nil
}

// Dialect is the PostgreSQL dialect.
var Dialect = sqldb.Dialect{
	Name: "postgres",
	IsUniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
}
