package migrate

import "time"

// FileRef names one migration file.
type FileRef struct {
	Version int64  `json:"version"`
	File    string `json:"file"`
}

// Applied is one migration applied or rolled back.
type Applied struct {
	Version   int64
	File      string
	Direction string // "up" or "down"
	Duration  time.Duration
	// Empty is true for a file whose section holds no statement; its version is recorded
	// all the same.
	Empty bool
}

// Report says what a command that changes the schema did. Commands return it together with
// their error, so the migrations applied before a failure are reported too.
type Report struct {
	VersionBefore int64
	VersionAfter  int64
	Applied       []Applied
	// ChecksumsRecorded lists applied migrations that had no recorded checksum (they were
	// applied before checksums were kept, or by another tool) and got one from their file.
	ChecksumsRecorded []FileRef
	// ChecksumMismatches lists the mismatches tolerated by Options.AllowChecksumMismatch.
	ChecksumMismatches []Mismatch
}

// Migration states in FileStatus.State.
const (
	StateApplied = "applied"
	StatePending = "pending"
	// StateFileMissing is an applied version that no migration file carries.
	StateFileMissing = "applied, file missing"
)

// Checksum states in FileStatus.Checksum.
const (
	ChecksumOK         = "ok"
	ChecksumEdited     = "edited"
	ChecksumUnrecorded = "unrecorded"
)

// FileStatus is one migration in Status.
type FileStatus struct {
	Version int64
	File    string
	State   string
	// AppliedAt is when the version was recorded, zero when pending.
	AppliedAt time.Time
	// OutOfOrder marks a pending migration with a lower version than the highest applied
	// one: Up refuses to run until it is applied with Options.AllowMissing.
	OutOfOrder bool
	// Checksum compares an applied file with the checksum recorded when it was applied:
	// ChecksumOK, ChecksumEdited, ChecksumUnrecorded, or "" for a pending or missing file.
	Checksum string
}

// Status is the state of every migration known to the files or the database.
type Status struct {
	// Version is the highest applied version, 0 when none is.
	Version int64
	// Latest is the highest version among the files.
	Latest     int64
	Migrations []FileStatus
}

// Verification is the result of Verify.
type Verification struct {
	// Checked is the number of applied migrations compared with their files.
	Checked    int
	Mismatches []Mismatch
	// Unrecorded are applied migrations without a recorded checksum; the next command that
	// changes the schema records them from the files.
	Unrecorded []FileRef
}
