// Package session reads the session tokens that the web app's sign-in library sets, so the
// HTTP service can learn who the user is without a session table of its own.
//
// Two token formats are understood, both encrypted JWTs (JWE, "dir" key management) whose
// key is derived from the app's secret with HKDF-SHA256:
//
//   - NextAuth.js v4: no salt, info "NextAuth.js Generated Encryption Key", a 32-byte key,
//     content encryption A256GCM, no "kid" header.
//   - Auth.js v5: the salt is the name of the cookie the token travels in, info
//     "Auth.js Generated Encryption Key (<salt>)", a 64-byte key for A256CBC-HS512, and a
//     "kid" header holding the base64url SHA-512 JWK thumbprint of the derived key, which
//     picks the secret among several during rotation.
//
// A token is only as trustworthy as the secret: anyone holding AUTH_SECRET or
// NEXTAUTH_SECRET can mint a session for any user, so the service must get the secret the
// same way the web app does and nobody else.
//
// [Decoder.FromRequest] finds the token in a request's cookies (possibly split into
// chunks) or in an Authorization bearer header, decrypts it with every configured secret,
// checks exp and nbf with [ClockTolerance], and returns [Claims]. [Mint] and
// [ChunkCookies] produce tokens and cookies byte-compatible with the libraries, for tests
// and tools.
package session
