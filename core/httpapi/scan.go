package httpapi

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects a body may have: the
// limit of encoding/json, so that a body is valid here exactly when
// json.Valid says so.
const maxDepth = 10000

// scanner walks a JSON body once, front to back. Its readers check the
// syntax of what they pass over; any fault sets bad, after which the body is
// reported as not JSON and nothing else read from it counts.
type scanner struct {
	b   []byte
	i   int
	bad bool
	// text is b as one string, made on the first string read: the strings
	// that need no decoding are cut from it, not each copied. (They keep
	// the body's text alive as long as any of them is: a body is at most
	// the server's body limit.)
	text string
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte after whitespace, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// consume takes c if it is next.
func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// plain marks the bytes a string holds as they are: not a quote, a
// backslash, a control character or a byte outside ASCII.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// rawString passes over the string at s.i and returns the offsets of its
// bytes between the quotes, and whether it holds escapes or bytes outside
// ASCII (then it may need decoding).
func (s *scanner) rawString() (start, end int, special bool) {
	start = s.i + 1
	i := start
	for i < len(s.b) {
		c := s.b[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			s.i = i + 1
			return start, i, special
		case c == '\\':
			special = true
			if i+1 >= len(s.b) {
				s.bad = true
				return 0, 0, false
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) || !isHex(s.b[i+2]) || !isHex(s.b[i+3]) || !isHex(s.b[i+4]) || !isHex(s.b[i+5]) {
					s.bad = true
					return 0, 0, false
				}
				i += 6
			default:
				s.bad = true
				return 0, 0, false
			}
		case c < 0x20:
			s.bad = true
			return 0, 0, false
		default:
			special = true
			i++
		}
	}
	s.bad = true
	return 0, 0, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// decode reads the string at s.i: either its bytes need no decoding
// (plain, at b[start:end]) or v is its decoded text.
func (s *scanner) decode() (v string, start, end int, plain bool) {
	q := s.i
	start, end, special := s.rawString()
	if s.bad || !special || (utf8.Valid(s.b[start:end]) && !bytes.ContainsRune(s.b[start:end], '\\')) {
		return "", start, end, true
	}
	v, ok := unquote(s.b[q:s.i])
	s.bad = s.bad || !ok
	return v, 0, 0, false
}

// unquote decodes a quoted string as encoding/json does.
func unquote(q []byte) (string, bool) {
	var v string
	err := json.Unmarshal(q, &v)
	return v, err == nil
}

// str reads the string at s.i.
func (s *scanner) str() string {
	v, start, end, plain := s.decode()
	if !plain {
		return v
	}
	if s.text == "" {
		s.text = string(s.b)
	}
	return s.text[start:end]
}

// literal passes over lit (true, false, null).
func (s *scanner) literal(lit string) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.bad = true
		return
	}
	s.i += len(lit)
}

// number passes over a number.
func (s *scanner) number() {
	i := s.i
	digits := func() bool {
		j := i
		for i < len(s.b) && '0' <= s.b[i] && s.b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case !digits():
		s.bad = true
		return
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if !digits() {
			s.bad = true
			return
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if !digits() {
			s.bad = true
			return
		}
	}
	s.i = i
}

// null takes a null if it is next.
func (s *scanner) null() bool {
	if s.peek() != 'n' {
		return false
	}
	s.literal("null")
	return true
}

// skip passes over any value, checking its syntax; depth is the nesting of
// the container it is in.
func (s *scanner) skip(depth int) {
	switch s.peek() {
	case '"':
		s.rawString()
	case '{':
		s.i++
		s.members(depth+1, func(string) { s.skip(depth + 1) })
	case '[':
		s.i++
		s.elements(depth+1, func(int) { s.skip(depth + 1) })
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.number()
	}
}

// members reads the members of the object just opened (at nesting depth),
// handing each key to member, which must read the value.
func (s *scanner) members(depth int, member func(key string)) {
	if depth > maxDepth {
		s.bad = true
		return
	}
	if s.consume('}') {
		return
	}
	for !s.bad {
		if s.peek() != '"' {
			s.bad = true
			return
		}
		k := s.str()
		if !s.consume(':') {
			s.bad = true
			return
		}
		member(k)
		switch {
		case s.bad:
		case s.consume(','):
		case s.consume('}'):
			return
		default:
			s.bad = true
		}
	}
}

// elements reads the elements of the array just opened (at nesting depth),
// handing each index to element, which must read the value.
func (s *scanner) elements(depth int, element func(i int)) {
	if depth > maxDepth {
		s.bad = true
		return
	}
	if s.consume(']') {
		return
	}
	for i := 0; !s.bad; i++ {
		element(i)
		switch {
		case s.bad:
		case s.consume(','):
		case s.consume(']'):
			return
		default:
			s.bad = true
		}
	}
}

// end checks that nothing but whitespace follows the value read.
func (s *scanner) end() {
	s.ws()
	if s.i != len(s.b) {
		s.bad = true
	}
}
