package migrate

import (
	"strings"
	"unicode/utf8"
)

// tokenKind classifies the tokens the lint needs. The scanner is not a SQL parser: it only
// knows enough of PostgreSQL's lexical rules to keep quotes and comments from looking like
// code, and code from looking like a quote.
type tokenKind int

const (
	tokWord         tokenKind = iota // keyword, unquoted identifier or number
	tokQuotedIdent                   // "Identifier"
	tokString                        // 'text', E'text'
	tokDollarString                  // $$body$$, $tag$body$tag$
	tokPunct                         // one character: ; ( ) , . = and the like
)

type token struct {
	kind tokenKind
	text string
	line int // 1-based line of the token's first character
}

// word reports whether t is the unquoted keyword or identifier kw, ignoring case.
func (t token) word(kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// scanSQL splits src into tokens, dropping whitespace and comments. An unterminated quote or
// comment runs to the end of src, as the server would see it.
func scanSQL(src string) []token {
	var toks []token
	line := 1
	i := 0
	emit := func(kind tokenKind, start, end int) {
		toks = append(toks, token{kind: kind, text: src[start:end], line: line})
		line += strings.Count(src[start:end], "\n")
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := blockCommentEnd(src, i)
			line += strings.Count(src[i:end], "\n")
			i = end
		case c == '\'':
			end := quotedEnd(src, i, '\'', false)
			emit(tokString, i, end)
			i = end
		case (c == 'E' || c == 'e') && i+1 < len(src) && src[i+1] == '\'':
			end := quotedEnd(src, i+1, '\'', true)
			emit(tokString, i, end)
			i = end
		case c == '"':
			end := quotedEnd(src, i, '"', false)
			emit(tokQuotedIdent, i, end)
			i = end
		case c == '$':
			if tag, ok := dollarTag(src[i:]); ok {
				end := strings.Index(src[i+len(tag):], tag)
				if end < 0 {
					end = len(src)
				} else {
					end = i + len(tag) + end + len(tag)
				}
				emit(tokDollarString, i, end)
				i = end
				continue
			}
			emit(tokPunct, i, i+1)
			i++
		case isIdentStart(c) || c >= utf8.RuneSelf || isDigit(c):
			end := i + 1
			for end < len(src) && (isIdentPart(src[end]) || src[end] >= utf8.RuneSelf) {
				end++
			}
			emit(tokWord, i, end)
			i = end
		default:
			emit(tokPunct, i, i+1)
			i++
		}
	}
	return toks
}

// blockCommentEnd returns the offset after the comment opened at start; PostgreSQL's block
// comments nest.
func blockCommentEnd(src string, start int) int {
	depth := 0
	for i := start; i < len(src)-1; i++ {
		switch {
		case src[i] == '/' && src[i+1] == '*':
			depth++
			i++
		case src[i] == '*' && src[i+1] == '/':
			depth--
			i++
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(src)
}

// quotedEnd returns the offset after the quoted text opened at start by q. A doubled quote
// stands for itself; with backslashes set (E” strings) a backslash escapes the next byte.
func quotedEnd(src string, start int, q byte, backslashes bool) int {
	for i := start + 1; i < len(src); i++ {
		switch {
		case backslashes && src[i] == '\\':
			i++
		case src[i] == q:
			if i+1 < len(src) && src[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(src)
}

// dollarTag returns the opening delimiter of a dollar quote at the start of s ($$ or $tag$).
// A $ followed by a digit is a parameter, not a quote.
func dollarTag(s string) (string, bool) {
	if len(s) < 2 {
		return "", false
	}
	if s[1] == '$' {
		return "$$", true
	}
	if !isIdentStart(s[1]) && s[1] < utf8.RuneSelf {
		return "", false
	}
	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '$':
			return s[:i+1], true
		case isIdentStart(s[i]) || isDigit(s[i]) || s[i] >= utf8.RuneSelf:
		default:
			return "", false
		}
	}
	return "", false
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
