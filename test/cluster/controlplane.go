package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	kcmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd runs an embedded single-member etcd on loopback and returns its client URL.
// The free ports are picked before etcd binds them, so a start is retried if another
// process took a port in between. Data left by an earlier start (a restart) is kept:
// only a fresh data directory is removed between attempts.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	_, statErr := os.Stat(filepath.Join(dir, "etcd"))
	restart := statErr == nil
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, u, err := startEtcdOnce(dir)
		if err == nil {
			return e, u, nil
		}
		lastErr = err
		if !restart {
			_ = os.RemoveAll(filepath.Join(dir, "etcd"))
		}
	}
	return nil, "", lastErr
}

func startEtcdOnce(dir string) (*embed.Etcd, string, error) {
	cport, err := freePort()
	if err != nil {
		return nil, "", err
	}
	pport, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "localcluster"
	cfg.Dir = filepath.Join(dir, "etcd")
	curl, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(cport))
	purl, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(pport))
	cfg.ListenClientUrls = []url.URL{*curl}
	cfg.AdvertiseClientUrls = []url.URL{*curl}
	cfg.ListenPeerUrls = []url.URL{*purl}
	cfg.AdvertisePeerUrls = []url.URL{*purl}
	cfg.InitialCluster = cfg.Name + "=" + purl.String()
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // throw-away test data: trade durability for speed
	cfg.QuotaBackendBytes = 8 << 30
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("etcd did not become ready within 60s")
	}
	return e, curl.String(), nil
}

// runAPIServer runs the real kube-apiserver cobra command in this process.
// It returns a channel that receives the command's exit error.
func runAPIServer(dir string, p *pki, etcdURL string, port int, extra []string) <-chan error {
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingK,
		"--client-ca-file=" + p.caCert,
		// As kubeadm runs it: the Node authorizer and NodeRestriction admission let real kubelets in.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--profiling=false",
		"--max-requests-inflight=1000",
		"--max-mutating-requests-inflight=500",
		"--event-ttl=1h",
		// the kubernetes Service endpoints would need a non-loopback address
		"--endpoint-reconciler-type=none",
	}
	args = append(args, extra...)
	cmd := apiserverapp.NewAPIServerCommand()
	cmd.SetArgs(args)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Execute() }()
	return errc
}

func parseInto(sets map[string]*pflag.FlagSet, order []string, args []string) error {
	fs := pflag.NewFlagSet("component", pflag.ContinueOnError)
	for _, name := range order {
		if s, ok := sets[name]; ok {
			fs.AddFlagSet(s)
		}
	}
	return fs.Parse(args)
}

// runControllerManager runs kube-controller-manager at upstream's defaults (every default
// controller, client QPS 20 / burst 30, node-monitor grace period 50 s), with per-controller
// service-account credentials and CSR signing by the cluster CA, as kubeadm runs it.
func runControllerManager(ctx context.Context, kubeconfig string, p *pki, controllers string, extra []string) error {
	s, err := kcmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	all, disabled, aliases := kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases()
	nfs := s.Flags(all, disabled, aliases)
	s.ParsedFlags = &nfs
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + controllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file=" + p.saKey,
		"--root-ca-file=" + p.caCert,
		"--use-service-account-credentials=true",
		"--cluster-signing-cert-file=" + p.caCert,
		"--cluster-signing-key-file=" + p.caKey,
	}
	args = append(args, extra...)
	if err := parseInto(nfs.FlagSets, nfs.Order, args); err != nil {
		return fmt.Errorf("kube-controller-manager flags: %w", err)
	}
	c, err := s.Config(ctx, all, disabled, aliases)
	if err != nil {
		return fmt.Errorf("kube-controller-manager config: %w", err)
	}
	return kcmapp.Run(ctx, c.Complete())
}

// runScheduler runs the default kube-scheduler at upstream's defaults (client QPS 50 / burst 100).
func runScheduler(ctx context.Context, kubeconfig string, extra []string) error {
	opts := schedoptions.NewOptions()
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	}
	args = append(args, extra...)
	if err := parseInto(opts.Flags.FlagSets, opts.Flags.Order, args); err != nil {
		return fmt.Errorf("kube-scheduler flags: %w", err)
	}
	name, err := cache.NewInformerName("kube-scheduler")
	if err != nil {
		return err
	}
	opts.InformerName = name
	cc, sched, err := schedapp.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("kube-scheduler setup: %w", err)
	}
	return schedapp.Run(ctx, cc, sched)
}

// writeKubeconfig writes an admin kubeconfig using the client certificate.
func writeKubeconfig(path, server string, p *pki) error {
	enc := func(b []byte) string { return base64Std(b) }
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: localcluster
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: localcluster
  context:
    cluster: localcluster
    user: admin
    namespace: default
current-context: localcluster
`, server, enc(p.caPEM), enc(p.adminCertPEM), enc(p.adminKeyPEM))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitAPIServer polls /readyz until the apiserver answers ok.
func waitAPIServer(ctx context.Context, cs kubernetes.Interface, errc <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			return fmt.Errorf("kube-apiserver exited: %v", err)
		default:
		}
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	klog.Errorf("apiserver not ready: %v", last)
	return fmt.Errorf("kube-apiserver not ready after %s: %v", timeout, last)
}
