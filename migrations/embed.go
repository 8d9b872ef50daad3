// Package migrations carries secretsdb's goose migrations inside the binary, so a deploy
// needs nothing beside it. The files are the one schema: sqlc reads this folder too.
package migrations

import "embed"

// FS holds every migration file, named NNNNN_<name>.sql, in goose's SQL format.
//
//go:embed *.sql
var FS embed.FS
