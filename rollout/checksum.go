package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// castagnoli is the CRC-32C table (hardware-accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	checksumKey    = `,"checksum":"`
	checksumPrefix = "crc32c:"
)

// ErrChecksum means a record's bytes no longer match the checksum written
// with them: the line was changed or damaged after it was written.
var ErrChecksum = errors.New("rollout: record checksum mismatch: the line was changed after it was written")

// errNoChecksum means a line carries no checksum, so it cannot be verified.
var errNoChecksum = errors.New("rollout: record has no checksum")

// AppendRecord appends rec as one JSON line (newline included) to dst,
// with rec's Checksum computed over the line and written as its last
// member; rec's own Checksum field is ignored. It is the one encoder of
// rollouts files.
func AppendRecord(dst []byte, rec *Record) ([]byte, error) {
	c := *rec
	c.Checksum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return dst, fmt.Errorf("rollout: encode %s rollout %d: %w", rec.EpisodeID, rec.Rollout, err)
	}
	body := b[:len(b)-1] // drop the closing brace; the checksum member goes before it
	dst = append(dst, body...)
	dst = append(dst, checksumKey...)
	dst = append(dst, checksumPrefix...)
	dst = appendHex8(dst, crc32.Checksum(body, castagnoli))
	return append(dst, "\"}\n"...), nil
}

func appendHex8(dst []byte, v uint32) []byte {
	var buf [8]byte
	s := strconv.AppendUint(buf[:0], uint64(v), 16)
	for range 8 - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// verifyLine checks the checksum of one JSON line (trailing newline
// optional): nil when it matches, errNoChecksum when the line has none,
// ErrChecksum when it does not match.
func verifyLine(line []byte) error {
	line = bytes.TrimRight(line, "\r\n")
	i := bytes.LastIndex(line, []byte(checksumKey))
	if i < 0 {
		return errNoChecksum
	}
	val := line[i+len(checksumKey):]
	if !bytes.HasPrefix(val, []byte(checksumPrefix)) || !bytes.HasSuffix(val, []byte(`"}`)) {
		return ErrChecksum
	}
	hex := val[len(checksumPrefix) : len(val)-2]
	want, err := strconv.ParseUint(string(hex), 16, 32)
	if err != nil || len(hex) != 8 {
		return ErrChecksum
	}
	if crc32.Checksum(line[:i], castagnoli) != uint32(want) {
		return ErrChecksum
	}
	return nil
}
