// Package dbq is sqlc's typed access to the SQL API, generated from queries/*.sql against
// the migrated schema by `make generate`. Every file here except this one and
// typed_test.go is generated and must not be edited. Only internal/secrets and
// internal/bench use it, and their exported APIs carry the project's own types, never these.
package dbq
