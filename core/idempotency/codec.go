package idempotency

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

// recordV2Tag starts a record in the binary layout of encodeRecord. Records
// in the JSON layout (recordTag) are still read: a gateway of an earlier
// version may have written them, and they live for the record TTL.
const recordV2Tag = "record2\n"

// encodeRecord appends r after recordV2Tag, in a layout read without
// scanning or unescaping:
//
//	uvarint status, varint createdAt (Unix ns), string fingerprint,
//	uvarint header count, per header: string name, uvarint value count,
//	string per value; then the body, to the end
//
// where a string is a uvarint length and its bytes. Names are written in
// sorted order, so one record always encodes the same.
func encodeRecord(dst []byte, r *Record) []byte {
	dst = append(dst, recordV2Tag...)
	dst = binary.AppendUvarint(dst, uint64(r.Status))
	dst = binary.AppendVarint(dst, r.CreatedAt.UnixNano())
	dst = appendString(dst, r.Fingerprint)
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = appendString(dst, k)
		vs := r.Header[k]
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, v := range vs {
			dst = appendString(dst, v)
		}
	}
	return append(dst, r.Body...)
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

var errCorruptRecord = errors.New("corrupt record")

// decodeRecord reads what encodeRecord wrote after the tag.
func decodeRecord(b string) (*Record, error) {
	d := recordDecoder{b: b}
	status := d.uvarint()
	created := d.varint()
	r := &Record{Fingerprint: d.string()}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) { // each header takes at least one byte
			return nil, errCorruptRecord
		}
		r.Header = make(map[string][]string, n)
		for range n {
			k := d.string()
			nv := d.uvarint()
			if d.err != nil || nv > uint64(len(d.b)) {
				return nil, errCorruptRecord
			}
			vs := make([]string, nv)
			for i := range vs {
				vs[i] = d.string()
			}
			r.Header[k] = vs
		}
	}
	if d.err != nil || status > 999 {
		return nil, errCorruptRecord
	}
	r.Status = int(status)
	r.CreatedAt = time.Unix(0, created).UTC()
	if d.b != "" {
		r.Body = []byte(d.b)
	}
	return r, nil
}

// recordDecoder reads from b; after the first error every read gives the
// zero value.
type recordDecoder struct {
	b   string
	err error
}

func (d *recordDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	var s uint
	for i := 0; i < len(d.b) && i < binary.MaxVarintLen64; i++ {
		c := d.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			d.b = d.b[i+1:]
			return v | uint64(c)<<s
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	d.err = errCorruptRecord
	return 0
}

func (d *recordDecoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *recordDecoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorruptRecord
		return ""
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}
