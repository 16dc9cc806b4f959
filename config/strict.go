package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// decodeStrict decodes n into v, refusing unknown keys. yaml.v3 refuses
// them only when decoding bytes, so n is encoded first; the "line N" of
// the errors are then lines of that encoding, and are turned back into the
// lines of n (those of the file it was read from).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return atFileLines(err, b, n)
	}
	return nil
}

// lineError is an error whose message names the file's lines.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }

// Unwrap returns the decoder's own error.
func (e *lineError) Unwrap() error { return e.err }

var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// atFileLines rewrites the "line N" of err, N being a line of enc (the
// encoding of n), to the line of n that line holds.
func atFileLines(err error, enc []byte, n *yaml.Node) error {
	var back yaml.Node
	if yaml.Unmarshal(enc, &back) != nil {
		return err
	}
	lines := map[int]int{}
	pairLines(n, &back, lines)
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		k, _ := strconv.Atoi(lineRef.FindStringSubmatch(m)[1])
		if orig, ok := lines[k]; ok {
			return "line " + strconv.Itoa(orig)
		}
		return m
	})
	return &lineError{msg: msg, err: err}
}

// pairLines walks orig and enc, the same tree read back from its encoding,
// side by side, and maps each line of enc to the first line of orig found
// on it.
func pairLines(orig, enc *yaml.Node, lines map[int]int) {
	if enc.Kind == yaml.DocumentNode && orig.Kind != yaml.DocumentNode && len(enc.Content) == 1 {
		enc = enc.Content[0]
	}
	if orig.Line > 0 && enc.Line > 0 {
		if _, ok := lines[enc.Line]; !ok {
			lines[enc.Line] = orig.Line
		}
	}
	if orig.Kind != enc.Kind || len(orig.Content) != len(enc.Content) {
		return
	}
	for i := range orig.Content {
		pairLines(orig.Content[i], enc.Content[i], lines)
	}
}
