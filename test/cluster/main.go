// Command localcluster runs a throw-away Kubernetes control plane (embedded
// etcd, kube-apiserver, kube-controller-manager with a few controllers,
// kube-scheduler) plus a kubelet simulator for N nodes, all in one process on
// 127.0.0.1. See README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "selftest" {
		os.Exit(runSelftest(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("localcluster", flag.ExitOnError)
	dir := fs.String("dir", "/tmp/prepuller-cluster", "state directory (kubeconfig, certs, etcd data, simulator.json)")
	nodes := fs.Int("nodes", 3, "number of simulated nodes to register (node-1..node-N)")
	pullSeconds := fs.Float64("pull-seconds", 1, "default seconds to pull one image (node annotation "+annPullSeconds+" overrides)")
	pullJitter := fs.Float64("pull-jitter", 0, "random +/- fraction applied to each pull time (0.2 = +/-20%)")
	statusDelay := fs.Float64("status-delay-seconds", 2, "default delay before a pulled image appears in node.status.images (node annotation "+annStatusDelay+" overrides)")
	maxImages := fs.Int("node-status-max-images", 50, "maximum images reported in node.status.images (largest first); <=0 means unlimited")
	backoffInitial := fs.Float64("backoff-initial-seconds", 10, "initial image-pull / crash-loop back-off")
	backoffMax := fs.Float64("backoff-max-seconds", 300, "maximum image-pull / crash-loop back-off")
	apiPort := fs.Int("port", 0, "kube-apiserver port on 127.0.0.1 (0: a free one); cluster.sh restart passes the previous one")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:0", "loopback address for the simulator metrics endpoint")
	podWorkers := fs.Int("pod-workers", 8, "simulator pod workers")
	nodeWorkers := fs.Int("node-workers", 4, "simulator node workers")
	controllers := fs.String("controllers", "daemonset-controller,garbage-collector-controller,pod-garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,root-ca-certificate-publisher-controller,node-lifecycle-controller",
		"kube-controller-manager --controllers value")
	var apiserverArgs, kcmArgs, schedArgs multiFlag
	fs.Var(&apiserverArgs, "apiserver-arg", "extra kube-apiserver flag (repeatable), e.g. --apiserver-arg=--v=2")
	fs.Var(&kcmArgs, "controller-manager-arg", "extra kube-controller-manager flag (repeatable)")
	fs.Var(&schedArgs, "scheduler-arg", "extra kube-scheduler flag (repeatable)")
	_ = fs.Parse(os.Args[1:])

	start := time.Now()
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	p, err := generatePKI(*dir)
	if err != nil {
		return fmt.Errorf("generate certificates: %w", err)
	}
	etcd, etcdURL, err := startEtcd(*dir)
	if err != nil {
		return err
	}
	defer etcd.Close()
	klog.InfoS("etcd ready", "url", etcdURL)

	port := *apiPort
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	kubeconfig := filepath.Join(*dir, "kubeconfig")
	// Written under a private name first: the public kubeconfig appears only when the cluster is usable.
	internalKubeconfig := filepath.Join(*dir, "admin.kubeconfig")
	if err := writeKubeconfig(internalKubeconfig, server, p); err != nil {
		return err
	}
	apiErr := runAPIServer(*dir, p, etcdURL, port, apiserverArgs)

	restCfg, err := clientcmd.BuildConfigFromFlags("", internalKubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = 1000, 2000
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	if err := waitAPIServer(ctx, cs, apiErr, 3*time.Minute); err != nil {
		return err
	}
	klog.InfoS("kube-apiserver ready", "url", server, "after", time.Since(start))

	fatal := make(chan error, 4)
	go func() { fatal <- fmt.Errorf("kube-apiserver exited: %v", <-apiErr) }()
	go func() {
		fatal <- fmt.Errorf("kube-controller-manager exited: %v", runControllerManager(ctx, internalKubeconfig, p, *controllers, kcmArgs))
	}()
	go func() {
		fatal <- fmt.Errorf("kube-scheduler exited: %v", runScheduler(ctx, internalKubeconfig, schedArgs))
	}()

	sim := newSimulator(cs, simConfig{
		pullSeconds: *pullSeconds, pullJitter: *pullJitter, statusDelay: *statusDelay, maxImages: *maxImages,
		backoffInitial: secs(*backoffInitial), backoffMax: secs(*backoffMax),
		podWorkers: *podWorkers, nodeWorkers: *nodeWorkers,
	})
	if err := sim.run(ctx); err != nil {
		return err
	}
	if err := sim.createNodes(ctx, *nodes); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *metricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for _, kv := range sim.metricsList() {
			fmt.Fprintf(w, "localcluster_%s %d\n", kv.name, kv.value)
		}
	})
	mux.HandleFunc("/metrics.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		out := map[string]int64{}
		for _, kv := range sim.metricsList() {
			out[kv.json] = kv.value
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	go func() { _ = http.Serve(ln, mux) }()
	metricsURL := "http://" + ln.Addr().String()

	info := map[string]interface{}{
		"pid": os.Getpid(), "apiServer": server, "kubeconfig": kubeconfig, "etcd": etcdURL,
		"metricsURL": metricsURL + "/metrics.json", "prometheusURL": metricsURL + "/metrics",
		"nodes": *nodes, "pullSeconds": *pullSeconds, "pullJitter": *pullJitter,
		"statusDelaySeconds": *statusDelay, "nodeStatusMaxImages": *maxImages,
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(*dir, "simulator.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeKubeconfig(kubeconfig, server, p); err != nil {
		return err
	}
	klog.InfoS("localcluster running", "kubeconfig", kubeconfig, "metrics", metricsURL, "startup", time.Since(start))
	_, _ = cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		// Everything is throw-away (cluster.sh down removes the directory): exit at
		// once instead of a graceful apiserver/etcd shutdown, which takes seconds.
		klog.InfoS("shutting down", "signal", s)
		klog.Flush()
		os.Exit(0)
		return nil
	case err := <-fatal:
		return err
	}
}

type metricKV struct {
	name, json string
	value      int64
}

func (s *simulator) metricsList() []metricKV {
	s.mu.Lock()
	nodes, pods := len(s.nodes), len(s.pods)
	s.mu.Unlock()
	return []metricKV{
		{"last_image_recorded_unix_nano", "lastImageRecordedUnixNano", s.m.lastImageRecordedUnixNano.Load()},
		{"pulls_started_total", "pullsStarted", s.m.pullsStarted.Load()},
		{"pulls_completed_total", "pullsCompleted", s.m.pullsCompleted.Load()},
		{"pulls_failed_total", "pullsFailed", s.m.pullsFailed.Load()},
		{"pulls_skipped_total", "pullsSkippedImagePresent", s.m.pullsSkipped.Load()},
		{"start_errors_total", "startErrors", s.m.startErrors.Load()},
		{"images_recorded_total", "imagesRecorded", s.m.imagesRecorded.Load()},
		{"node_status_writes_total", "nodeStatusWrites", s.m.nodeStatusWrites.Load()},
		{"pod_status_writes_total", "podStatusWrites", s.m.podStatusWrites.Load()},
		{"pods_force_deleted_total", "podsForceDeleted", s.m.podsForceDeleted.Load()},
		{"nodes_adopted_total", "nodesAdopted", s.m.nodesAdopted.Load()},
		{"nodes", "nodes", int64(nodes)},
		{"pods_tracked", "podsTracked", int64(pods)},
		{"now_unix_nano", "nowUnixNano", time.Now().UnixNano()},
	}
}
