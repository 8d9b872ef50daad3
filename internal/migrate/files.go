package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// migrationFile is one migration file as goose found it, with the SHA-256 of its bytes.
type migrationFile struct {
	Version int64
	Name    string // path inside the migrations file system
	SHA256  string // lower-case hex
	Data    []byte
}

// loadFiles reads the files behind goose's sources. The checksum covers the raw bytes:
// any edit, comments and line ends included, is a different file.
func loadFiles(fsys fs.FS, sources []*goose.Source) (map[int64]migrationFile, error) {
	files := make(map[int64]migrationFile, len(sources))
	for _, src := range sources {
		if src.Type != goose.TypeSQL {
			return nil, fmt.Errorf("migration %d: only SQL migrations are supported, got %s",
				src.Version, src.Type)
		}
		data, err := fs.ReadFile(fsys, src.Path)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", src.Path, err)
		}
		sum := sha256.Sum256(data)
		files[src.Version] = migrationFile{
			Version: src.Version,
			Name:    src.Path,
			SHA256:  hex.EncodeToString(sum[:]),
			Data:    data,
		}
	}
	return files, nil
}
