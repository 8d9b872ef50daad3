// Package dbq is sqlc's typed access to the SQL API, generated from queries/*.sql against
// the migrated schema by `make generate`; every file but this one, typed_test.go and
// queries' own comments is generated and must not be edited. Only internal/secrets and
// internal/bench use it: their exported APIs carry the project's own types, never these.
package dbq
