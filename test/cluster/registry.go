package main

// The harness's own OCI registry (with --real-nodes): go-containerregistry's
// registry handler on 127.0.0.1 with TLS (a certificate from the cluster CA)
// and HTTP basic auth on the private repository, serving images the harness
// builds itself, deterministically, so their digests are stable from run to run:
//
//	prepuller/public:1     busybox-static (sh, true, cp, ...) + 110 MB of data
//	prepuller/private:1    busybox-static + 4 MB of data; needs the credentials (also tagged 2)
//	prepuller/noshell:1    one data file: no shell, no coreutils, no entrypoint
//	prepuller/pause:3.10   the harness's pause binary (sandbox image, pauseImage)

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	registryUser       = "prepuller"
	privateRepo        = "prepuller/private"
	busyboxStaticPath  = "/bin/busybox" // Debian's busybox-static
	publicDataBytes    = 110 << 20
	privateDataBytes   = 4 << 20
	registryRealmBasic = `Basic realm="prepuller-test-registry"`
)

type registryImage struct {
	role    string // public, private, noShell, pause
	ref     string // 127.0.0.1:PORT/prepuller/public:1
	tags    []string
	content imageContent
}

type localRegistry struct {
	addr     string // 127.0.0.1:PORT
	password string
	caFile   string
	images   []registryImage
	mu       sync.Mutex
	pulls    map[string]int // manifest GETs by repository, for tests
	// blobDelay holds every blob GET this long before it is served, as a slow registry or a
	// long way does: pulls then last long enough to see whether a kubelet runs them at once.
	blobDelay time.Duration
}

// ref is the reference of one of the built images, by role.
func (r *localRegistry) ref(role string) string {
	for _, img := range r.images {
		if img.role == role {
			return img.ref
		}
	}
	return ""
}

// lookup finds content this registry serves for repo (normalized) at tag or digest.
func (r *localRegistry) lookup(repo, tag, digest string) (imageContent, bool) {
	for _, img := range r.images {
		if img.content.repo != repo {
			continue
		}
		if (digest != "" && img.content.manifestDigest == digest) || (digest == "" && slices.Contains(img.tags, tag)) {
			c := img.content
			c.tag = tag
			return c, true
		}
	}
	return imageContent{}, false
}

// startRegistry builds the images, serves them with TLS and basic auth, and writes registry.json.
func startRegistry(dir string, p *pki, pauseBinary string, blobDelay time.Duration) (*localRegistry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	secret := make([]byte, 12)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	reg := &localRegistry{addr: addr, password: hex.EncodeToString(secret), caFile: p.caCert, pulls: map[string]int{}, blobDelay: blobDelay}

	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if err := reg.build(inner, pauseBinary); err != nil {
		ln.Close()
		return nil, err
	}
	certPEM, keyPEM, err := p.servingCertFor("127.0.0.1")
	if err != nil {
		ln.Close()
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: reg.authenticate(inner), ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()

	images := map[string]string{}
	for _, img := range reg.images {
		images[img.role] = img.ref
	}
	info := map[string]interface{}{
		"address": addr, "username": registryUser, "password": reg.password, "caFile": p.caCert, "images": images,
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "registry.json"), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return reg, nil
}

// authenticate asks for basic auth on the private repository, as a registry with access control does.
func (r *localRegistry) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v2/"+privateRepo+"/") {
			user, pass, ok := req.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte(registryUser+":"+r.password)) != 1 {
				w.Header().Set("WWW-Authenticate", registryRealmBasic)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
		}
		if r.blobDelay > 0 && strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
			select {
			case <-time.After(r.blobDelay):
			case <-req.Context().Done():
				return
			}
		}
		if strings.Contains(req.URL.Path, "/manifests/") && req.Method == http.MethodGet {
			r.mu.Lock()
			r.pulls[strings.SplitN(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/", 2)[0]]++
			r.mu.Unlock()
		}
		next.ServeHTTP(w, req)
	})
}

func (r *localRegistry) build(inner http.Handler, pauseBinary string) error {
	busybox, err := os.ReadFile(busyboxStaticPath)
	if err != nil {
		return fmt.Errorf("the registry's images need Debian's busybox-static (%s): %w", busyboxStaticPath, err)
	}
	pause, err := os.ReadFile(pauseBinary)
	if err != nil {
		return fmt.Errorf("read the pause binary: %w", err)
	}
	// The images are pushed over plain HTTP on a second loopback listener that serves the same
	// storage without TLS or auth, then that listener closes.
	push := httptest.NewServer(inner)
	defer push.Close()
	pushHost := strings.TrimPrefix(push.URL, "http://")
	busyboxLayer := tarLayer(
		tarFile{name: "bin/busybox", mode: 0o755, data: busybox},
		tarLink("bin/sh"), tarLink("bin/true"), tarLink("bin/cp"), tarLink("bin/sleep"), tarLink("bin/ls"), tarLink("bin/cat"),
		tarFile{name: "tmp/", mode: 0o1777, dir: true},
	)
	specs := []struct {
		role, repo, tag string
		layers          [][]byte
		config          ggcrv1.Config
		private         bool
		noShell         bool
		extraTags       []string
	}{
		{"public", "prepuller/public", "1", [][]byte{busyboxLayer, tarLayer(tarFile{name: "data/public.bin", mode: 0o644, data: deterministicBytes("public", publicDataBytes)})},
			ggcrv1.Config{Cmd: []string{"/bin/sh"}}, false, false, nil},
		{"private", privateRepo, "1", [][]byte{busyboxLayer, tarLayer(tarFile{name: "data/private.bin", mode: 0o644, data: deterministicBytes("private", privateDataBytes)})},
			ggcrv1.Config{Cmd: []string{"/bin/sh"}}, true, false, []string{"2"}},
		{"noShell", "prepuller/noshell", "1", [][]byte{tarLayer(tarFile{name: "data/only-data.txt", mode: 0o644, data: []byte("no shell, no coreutils\n")})},
			ggcrv1.Config{}, false, true, nil},
		{"pause", "prepuller/pause", "3.10", [][]byte{tarLayer(tarFile{name: "pause", mode: 0o755, data: pause})},
			ggcrv1.Config{Entrypoint: []string{"/pause"}}, false, true, nil},
	}
	for _, s := range specs {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		for _, data := range s.layers {
			img, err = mutate.AppendLayers(img, static.NewLayer(data, types.OCIUncompressedLayer))
			if err != nil {
				return err
			}
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cfg = cfg.DeepCopy()
		cfg.Architecture, cfg.OS = "amd64", "linux"
		cfg.Created = ggcrv1.Time{Time: time.Unix(0, 0).UTC()}
		cfg.Config = s.config
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return err
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/%s:%s", r.addr, s.repo, s.tag))
		if err != nil {
			return err
		}
		pushRef, err := name.ParseReference(fmt.Sprintf("%s/%s:%s", pushHost, s.repo, s.tag), name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(pushRef, img, remote.WithContext(context.Background())); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		for _, extra := range s.extraTags {
			if err := remote.Tag(pushRef.Context().Tag(extra), img, remote.WithContext(context.Background())); err != nil {
				return fmt.Errorf("tag %s as %s: %w", ref, extra, err)
			}
		}
		content, err := describe(img, r.addr+"/"+s.repo, s.tag)
		if err != nil {
			return err
		}
		content.private, content.noShell = s.private, s.noShell
		r.images = append(r.images, registryImage{role: s.role, ref: ref.String(), tags: append([]string{s.tag}, s.extraTags...), content: content})
	}
	return nil
}

// describe gives the content facts a runtime derives from a pulled image.
func describe(img ggcrv1.Image, repo, tag string) (imageContent, error) {
	digest, err := img.Digest()
	if err != nil {
		return imageContent{}, err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return imageContent{}, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return imageContent{}, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return imageContent{}, err
	}
	size := int64(len(manifest) + len(config))
	layers, err := img.Layers()
	if err != nil {
		return imageContent{}, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return imageContent{}, err
		}
		size += n
	}
	return imageContent{repo: repo, tag: tag, manifestDigest: digest.String(), configDigest: configName.String(), size: size}, nil
}

type tarFile struct {
	name, link string
	mode       int64
	data       []byte
	dir        bool
}

func tarLink(name string) tarFile { return tarFile{name: name, link: "busybox", mode: 0o777} }

// tarLayer is an uncompressed layer with fixed owners and times, so its digest never changes.
func tarLayer(files ...tarFile) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	for _, f := range files {
		if d := filepath.Dir(strings.TrimSuffix(f.name, "/")); d != "." && !dirs[d] {
			dirs[d] = true
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
		}
		switch {
		case f.dir:
			dirs[strings.TrimSuffix(f.name, "/")] = true
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: f.name, Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX})
		case f.link != "":
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: f.name, Linkname: f.link, Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX})
		default:
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX})
			_, _ = tw.Write(f.data)
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}

// deterministicBytes is incompressible data that is the same in every run.
func deterministicBytes(seed string, n int) []byte {
	var key [32]byte
	copy(key[:], seed)
	rng := mrand.NewChaCha8(key)
	out := make([]byte, n)
	_, _ = rng.Read(out)
	return out
}
