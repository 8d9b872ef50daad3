package session

import "testing"

func benchmarkDecode(b *testing.B, f Format) {
	d := newTestDecoder(b, testSecret, oldSecret)
	token := mint(b, testUser, oldSecret, f, v5CookieName)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(token, v5CookieName); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeV4 decodes a token from the second secret, the worst case for v4, which
// has no kid and so tries the secrets in turn.
func BenchmarkDecodeV4(b *testing.B) { benchmarkDecode(b, FormatV4) }

// BenchmarkDecodeV5 decodes a token from the second secret; the kid picks its key.
func BenchmarkDecodeV5(b *testing.B) { benchmarkDecode(b, FormatV5) }
