package main

// What a simulated node's container runtime knows about images: the content a
// registry would serve for a reference (manifest digest, config digest = image
// ID, size) and the names containerd's CRI plugin gives a pulled image
// (RepoDigests "repo@sha256:...", RepoTags "repo:tag", both normalized).
//
// References to the harness's own registry (--real-nodes) resolve to the
// manifests that registry really serves; every other reference resolves to a
// deterministic synthetic manifest, whose digest is the sha256 of its bytes.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// imageContent is what a registry serves for one reference.
type imageContent struct {
	repo           string // normalized repository, e.g. docker.io/library/python
	tag            string // "" when pulled by digest only
	manifestDigest string // sha256:...
	configDigest   string // sha256:... (containerd's image ID)
	size           int64  // manifest + config + layers, as containerd's CRI reports it
	private        bool   // needs credentials
	noShell        bool   // has no /bin/sh or coreutils
}

// contentSource resolves references to content: the harness registry first, then synthetic.
type contentSource struct {
	registry *localRegistry // nil without --real-nodes
}

// parseRef parses a reference as the kubelet does (docker.io defaulting, :latest when untagged).
func parseRef(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSpace(ref))
	if err != nil {
		return nil, err
	}
	return reference.TagNameOnly(named), nil
}

func (c *contentSource) resolve(ref string) (imageContent, error) {
	named, err := parseRef(ref)
	if err != nil {
		return imageContent{}, err
	}
	repo := named.Name()
	tag := ""
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	digest := ""
	if d, ok := named.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	if c.registry != nil {
		if content, ok := c.registry.lookup(repo, tag, digest); ok {
			return content, nil
		}
	}
	return syntheticContent(repo, tag, digest), nil
}

// syntheticContent is a deterministic OCI manifest for repo:tag (or repo@digest):
// a config and 3 to 8 layers whose sizes add up to 50 MB .. 2 GB, derived from a hash.
func syntheticContent(repo, tag, digest string) imageContent {
	seedKey := repo + ":" + tag
	if digest != "" {
		seedKey = repo + "@" + digest
	}
	seed := sha256.Sum256([]byte("localcluster-image:" + seedKey))
	total := int64(50_000_000) + int64(binary.BigEndian.Uint64(seed[:8])%1_950_000_000)
	layers := 3 + int(seed[8]%6)
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]},"comment":%q}`, seedKey)
	configSum := sha256.Sum256([]byte(config))
	configDigest := "sha256:" + hex.EncodeToString(configSum[:])
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	manifest := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: descriptor{"application/vnd.oci.image.config.v1+json", configDigest, int64(len(config))}}
	remaining := total
	for i := 0; i < layers; i++ {
		size := remaining / int64(layers-i)
		if i < layers-1 {
			size = size/2 + int64(seed[9+i])*size/255
		}
		remaining -= size
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/layer/%d", seedKey, i)))
		manifest.Layers = append(manifest.Layers, descriptor{"application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + hex.EncodeToString(sum[:]), size})
	}
	raw, _ := json.Marshal(manifest)
	manifestSum := sha256.Sum256(raw)
	manifestDigest := "sha256:" + hex.EncodeToString(manifestSum[:])
	if digest != "" {
		// A reference by digest names the manifest; the registry serves exactly that one.
		manifestDigest = digest
	}
	return imageContent{repo: repo, tag: tag, manifestDigest: manifestDigest, configDigest: configDigest,
		size: int64(len(raw)) + int64(len(config)) + total}
}

// normalizeRef returns the fully qualified form of an image reference
// (python -> docker.io/library/python:latest). Invalid references are returned as given.
func normalizeRef(ref string) string {
	n, err := parseRef(ref)
	if err != nil {
		return strings.TrimSpace(ref)
	}
	return n.String()
}

// refMatches reports whether two references name the same image (as written or normalized).
func refMatches(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a == b || normalizeRef(a) == normalizeRef(b)
}

// listContains reports whether a comma-separated annotation value names ref.
func listContains(list, ref string) bool {
	for _, item := range splitList(list) {
		if refMatches(item, ref) {
			return true
		}
	}
	return false
}

func splitList(list string) []string {
	var out []string
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// registryHost is the host[:port] part of a normalized reference.
func registryHost(ref string) string {
	n, err := parseRef(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(n)
}
