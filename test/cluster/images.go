package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/distribution/reference"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// normalizeRef returns the fully qualified form of an image reference
// (python -> docker.io/library/python:latest). Invalid references are returned as given.
func normalizeRef(ref string) string {
	n, err := reference.ParseDockerRef(strings.TrimSpace(ref))
	if err != nil {
		return strings.TrimSpace(ref)
	}
	return n.String()
}

// repoOf returns the repository part (without tag or digest) of a normalized reference.
func repoOf(ref string) string {
	n, err := reference.ParseNormalizedNamed(strings.TrimSpace(ref))
	if err != nil {
		return ref
	}
	return n.Name()
}

// fakeDigest is a deterministic sha256 digest for a reference. A reference that
// already carries a digest keeps it.
func fakeDigest(ref string) string {
	norm := normalizeRef(ref)
	if i := strings.Index(norm, "@sha256:"); i >= 0 {
		return norm[i+1:]
	}
	sum := sha256.Sum256([]byte("localcluster-image:" + norm))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// digestRef is the repo@sha256:... form used for imageID and node.status.images.
func digestRef(ref string) string { return repoOf(ref) + "@" + fakeDigest(ref) }

// fakeSize is a plausible image size between 50 MB and 2 GB derived from the reference.
func fakeSize(ref string) int64 {
	sum := sha256.Sum256([]byte("localcluster-size:" + normalizeRef(ref)))
	const lo, hi = 50_000_000, 2_000_000_000
	return lo + int64(binary.BigEndian.Uint64(sum[:8])%uint64(hi-lo))
}

// imageNamesFor lists the names a node reports for a pulled reference.
func imageNamesFor(ref string) []string {
	d := digestRef(ref)
	if strings.TrimSpace(ref) == d {
		return []string{d}
	}
	return []string{strings.TrimSpace(ref), d}
}

// refMatches reports whether two references name the same image (as written or normalized).
func refMatches(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return true
	}
	return normalizeRef(a) == normalizeRef(b)
}

// listContains reports whether a comma-separated annotation value names ref.
func listContains(list, ref string) bool {
	if list == "" {
		return false
	}
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item != "" && refMatches(item, ref) {
			return true
		}
	}
	return false
}

// normalizeDigestName qualifies a repo@sha256:... name (python@sha256:x -> docker.io/library/python@sha256:x).
func normalizeDigestName(n string) string {
	r, err := reference.ParseNormalizedNamed(strings.TrimSpace(n))
	if err != nil {
		return n
	}
	return r.String()
}
