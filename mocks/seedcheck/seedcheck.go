// Package seedcheck compares a mock's answers with the examples of its
// provider's document (shared/seeds), for the tests that send each example
// to its mock verbatim.
//
// A document's example answer has values of two kinds: those that follow
// from the request or are fixed by the provider (a state, a currency, a
// bank code), which the mock must answer equal, and those the provider
// makes anew for every call (ids, dates, account numbers), which it must
// answer with the same JSON type and, where the test gives one, the same
// format. Members the mock answers beyond the example are listed apart, so
// a test can hold them to the ones its package documentation names.
package seedcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

// Generated names the members of an example answer that the provider makes
// per call, by dotted path ("data.id", "data.deposit_addresses.0.data.account_number"),
// each with a regular expression its value must match when it is a string or
// a number ("" for any value of the example's type).
type Generated map[string]string

// Compare reports every way got (a mock's JSON answer) differs from want
// (the document's example answer): a member of want missing from got, of
// another JSON type, or with another value unless generated lists it (then
// its format is checked instead), and arrays of other lengths. It returns
// nil when they agree.
func Compare(want, got []byte, generated Generated) []string {
	var w, g any
	if err := decode(want, &w); err != nil {
		return []string{"example: " + err.Error()}
	}
	if err := decode(got, &g); err != nil {
		return []string{"answer: " + err.Error()}
	}
	var out []string
	compare("", w, g, generated, &out)
	for path := range generated {
		if !has(w, path) {
			out = append(out, fmt.Sprintf("%s: listed as generated but not in the example", path))
		}
	}
	slices.Sort(out)
	return out
}

// Extra lists, by dotted path, the members of got's objects that want's
// objects at the same place lack: what the mock answers beyond the example.
func Extra(want, got []byte) []string {
	var w, g any
	if decode(want, &w) != nil || decode(got, &g) != nil {
		return nil
	}
	var out []string
	extra("", w, g, &out)
	slices.Sort(out)
	return out
}

func decode(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func compare(path string, want, got any, gen Generated, out *[]string) {
	if kind(want) != kind(got) {
		*out = append(*out, fmt.Sprintf("%s: %s %s in the answer, %s %s in the example", orRoot(path), kind(got), show(got), kind(want), show(want)))
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			p := join(path, k)
			gv, ok := g[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: missing from the answer (example %s)", p, show(wv)))
				continue
			}
			compare(p, wv, gv, gen, out)
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: %d elements in the answer, %d in the example", orRoot(path), len(g), len(w)))
		}
		for i := range min(len(w), len(g)) {
			compare(join(path, strconv.Itoa(i)), w[i], g[i], gen, out)
		}
	default:
		if format, ok := gen[path]; ok {
			if format != "" && !regexp.MustCompile(format).MatchString(scalar(got)) {
				*out = append(*out, fmt.Sprintf("%s: %s does not match %s", path, show(got), format))
			}
			return
		}
		if scalar(want) != scalar(got) {
			*out = append(*out, fmt.Sprintf("%s: %s in the answer, %s in the example", path, show(got), show(want)))
		}
	}
}

func extra(path string, want, got any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return
		}
		for k, gv := range g {
			if wv, ok := w[k]; ok {
				extra(join(path, k), wv, gv, out)
			} else {
				*out = append(*out, join(path, k))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return
		}
		for i := range min(len(w), len(g)) {
			extra(join(path, strconv.Itoa(i)), w[i], g[i], out)
		}
	}
}

// With returns example with the members at the given dotted paths set to
// the given values: an example answer to a request the document shows
// without one, whose echoed members are that request's.
func With(example []byte, values map[string]any) ([]byte, error) {
	var v any
	if err := decode(example, &v); err != nil {
		return nil, err
	}
	for path, val := range values {
		if !set(v, path, val) {
			return nil, fmt.Errorf("seedcheck: no member %s in the example", path)
		}
	}
	return json.Marshal(v)
}

func set(v any, path string, val any) bool {
	head, rest, nested := cut(path)
	switch x := v.(type) {
	case map[string]any:
		sub, ok := x[head]
		if !ok {
			return false
		}
		if !nested {
			x[head] = val
			return true
		}
		return set(sub, rest, val)
	case []any:
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(x) {
			return false
		}
		if !nested {
			x[i] = val
			return true
		}
		return set(x[i], rest, val)
	}
	return false
}

// has reports whether v holds a member at the dotted path.
func has(v any, path string) bool {
	if path == "" {
		return true
	}
	head, rest, nested := cut(path)
	switch x := v.(type) {
	case map[string]any:
		sub, ok := x[head]
		return ok && (!nested || has(sub, rest))
	case []any:
		i, err := strconv.Atoi(head)
		return err == nil && i >= 0 && i < len(x) && (!nested || has(x[i], rest))
	}
	return false
}

func cut(path string) (head, rest string, nested bool) {
	for i := range len(path) {
		if path[i] == '.' {
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
