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
	"strconv"
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
	if len(os.Args) > 1 && os.Args[1] == "cleanup" {
		os.Exit(runCleanup(os.Args[2:]))
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
	realNodes := fs.Int("real-nodes", 0, "nodes run by a real kubelet on containerd (0 or 1), plus a local registry")
	serializePulls := fs.Bool("serialize-image-pulls", true, "simulated kubelets' serializeImagePulls (false: different pods' pulls at once; a node annotation overrides it)")
	maxParallelPulls := fs.Int("max-parallel-image-pulls", 0, "simulated kubelets' maxParallelImagePulls with --serialize-image-pulls=false (0: unbounded)")
	pullBandwidth := fs.Float64("pull-bandwidth", 1, "how many lone pulls' speed a simulated node's link carries (concurrent pulls share it)")
	blobDelay := fs.Duration("registry-blob-delay", 0, "hold every blob GET of the local registry this long (slow pulls, to see them overlap)")
	pullSeconds := fs.Float64("pull-seconds", 1, "default seconds to pull one image (node annotation "+annPullSeconds+" overrides)")
	pullJitter := fs.Float64("pull-jitter", 0, "random +/- fraction applied to each pull time (0.2 = +/-20%)")
	imageListRefresh := fs.Float64("image-list-refresh-seconds", 30, "how often the kubelet's image list is refreshed from the runtime (node annotation "+annImageListRefresh+" overrides)")
	nodeStatus := fs.Float64("node-status-seconds", 10, "how often node status is computed and written if changed (kubelet nodeStatusUpdateFrequency; node annotation "+annNodeStatus+" overrides)")
	nodeStatusReport := fs.Float64("node-status-report-seconds", 300, "node status is written at least this often (kubelet nodeStatusReportFrequency)")
	leaseSeconds := fs.Float64("lease-seconds", 40, "node Lease duration; renewed every quarter of it (kubelet nodeLeaseDurationSeconds)")
	maxImages := fs.Int("node-status-max-images", 50, "images reported in node.status.images, largest first (kubelet nodeStatusMaxImages); -1: unlimited")
	fillerImages := fs.String("node-images", "0", "other images each node-N already holds: N or MIN-MAX (realistic names and sizes)")
	backoffInitial := fs.Float64("backoff-initial-seconds", 10, "initial image-pull / crash-loop back-off")
	backoffMax := fs.Float64("backoff-max-seconds", 300, "maximum image-pull / crash-loop back-off")
	apiPort := fs.Int("port", 0, "kube-apiserver port on 127.0.0.1 (0: a free one); cluster.sh restart passes the previous one")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:0", "loopback address for the simulator metrics endpoint")
	podWorkers := fs.Int("pod-workers", 8, "simulator pod workers")
	nodeWorkers := fs.Int("node-workers", 4, "simulator node workers")
	controllers := fs.String("controllers", "*", "kube-controller-manager --controllers value (upstream default: *)")
	var apiserverArgs, kcmArgs, schedArgs, kubeletArgs, kubeletConfig multiFlag
	fs.Var(&apiserverArgs, "apiserver-arg", "extra kube-apiserver flag (repeatable), e.g. --apiserver-arg=--v=2")
	fs.Var(&kcmArgs, "controller-manager-arg", "extra kube-controller-manager flag (repeatable), e.g. --controller-manager-arg=--kube-api-qps=100")
	fs.Var(&schedArgs, "scheduler-arg", "extra kube-scheduler flag (repeatable)")
	fs.Var(&kubeletArgs, "kubelet-arg", "extra flag for the real nodes' kubelets (repeatable)")
	fs.Var(&kubeletConfig, "kubelet-config", "extra top-level KubeletConfiguration field for the real nodes, as one YAML line (repeatable), e.g. --kubelet-config='imageMaximumGCAge: 1m'")
	_ = fs.Parse(os.Args[1:])

	if *realNodes < 0 || *realNodes > 1 {
		return fmt.Errorf("--real-nodes must be 0 or 1, got %d", *realNodes)
	}
	fillers, err := parseRange(*fillerImages)
	if err != nil {
		return fmt.Errorf("--node-images: %w", err)
	}
	start := time.Now()
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	self, err := os.Executable()
	if err != nil {
		return err
	}
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

	content := &contentSource{}
	var real []*realNode
	if *realNodes > 0 {
		reg, err := startRegistry(*dir, p, filepath.Join(filepath.Dir(self), "pause"), *blobDelay)
		if err != nil {
			return fmt.Errorf("local registry: %w", err)
		}
		content.registry = reg
		klog.InfoS("local registry ready", "address", reg.addr)
	}
	sim := newSimulator(cs, simConfig{
		pullSeconds: *pullSeconds, pullJitter: *pullJitter,
		imageListRefresh: secs(*imageListRefresh), nodeStatusUpdate: secs(*nodeStatus), nodeStatusReport: secs(*nodeStatusReport),
		leaseDuration: secs(*leaseSeconds), maxImages: *maxImages, fillerImages: fillers,
		backoffInitial: secs(*backoffInitial), backoffMax: secs(*backoffMax),
		podWorkers: *podWorkers, nodeWorkers: *nodeWorkers,
		parallelPulls: !*serializePulls, maxParallelPulls: *maxParallelPulls, pullBandwidth: *pullBandwidth,
	}, content)
	if err := sim.run(ctx); err != nil {
		return err
	}
	if err := sim.createNodes(ctx, *nodes); err != nil {
		return err
	}
	teardown := func() {
		for _, n := range real {
			n.teardown()
		}
	}
	for i := 1; i <= *realNodes; i++ {
		n, err := startRealNode(ctx, realNodeOptions{
			index: i, clusterDir: *dir, apiServer: server, apiPort: port, pki: p, registry: content.registry,
			kubeletPath: filepath.Join(filepath.Dir(self), "kubelet"), pauseImage: content.registry.ref("pause"),
			maxImages: *maxImages, kubeletFlags: kubeletArgs, kubeletConfig: kubeletConfig,
		})
		if n != nil {
			real = append(real, n)
		}
		if err != nil {
			teardown()
			if n == nil {
				cleanupRealNode(realNodeRecord{Dir: filepath.Join(*dir, "realnode-"+strconv.Itoa(i)),
					Dummy: fmt.Sprintf("ppn%d", port), Bridge: fmt.Sprintf("ppb%d", port)})
			}
			return fmt.Errorf("real node %d: %w", i, err)
		}
		go func(n *realNode) { fatal <- <-n.exited }(n)
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
		"nodes": *nodes, "realNodes": *realNodes, "pullSeconds": *pullSeconds, "pullJitter": *pullJitter,
		"serializeImagePulls": *serializePulls, "maxParallelImagePulls": *maxParallelPulls, "pullBandwidth": *pullBandwidth,
		"imageListRefreshSeconds": *imageListRefresh, "nodeStatusSeconds": *nodeStatus, "nodeStatusReportSeconds": *nodeStatusReport, "leaseSeconds": *leaseSeconds,
		"nodeStatusMaxImages": *maxImages, "nodeImages": fillers, "controllers": *controllers,
		"apiserverArgs": apiserverArgs, "controllerManagerArgs": kcmArgs, "schedulerArgs": schedArgs,
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
		// Everything else is throw-away (cluster.sh down removes the directory): exit at
		// once instead of a graceful apiserver/etcd shutdown, which takes seconds. Real
		// nodes are torn down first: their processes, mounts and interfaces outlive us.
		klog.InfoS("shutting down", "signal", s)
		teardown()
		klog.Flush()
		os.Exit(0)
		return nil
	case err := <-fatal:
		teardown()
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
		{"last_pull_completed_unix_nano", "lastPullCompletedUnixNano", s.m.lastPullCompletedUnixNano.Load()},
		{"lease_writes_total", "leaseWrites", s.m.leaseWrites.Load()},
		{"pods_terminated_total", "podsTerminated", s.m.podsEvicted.Load()},
		{"images_recorded_total", "imagesRecorded", s.m.imagesRecorded.Load()},
		{"node_status_writes_total", "nodeStatusWrites", s.m.nodeStatusWrites.Load()},
		{"node_status_unchanged_writes_total", "nodeStatusUnchangedWrites", s.m.nodeStatusUnchangedWrites.Load()},
		{"pod_status_writes_total", "podStatusWrites", s.m.podStatusWrites.Load()},
		{"nodes_adopted_total", "nodesAdopted", s.m.nodesAdopted.Load()},
		{"nodes", "nodes", int64(nodes)},
		{"pods_tracked", "podsTracked", int64(pods)},
		{"now_unix_nano", "nowUnixNano", time.Now().UnixNano()},
	}
}

// parseRange reads "N" or "MIN-MAX".
func parseRange(v string) ([2]int, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(v), "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 0 {
		return [2]int{}, fmt.Errorf("%q is not N or MIN-MAX", v)
	}
	if !found {
		return [2]int{a, a}, nil
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a {
		return [2]int{}, fmt.Errorf("%q is not N or MIN-MAX", v)
	}
	return [2]int{a, b}, nil
}
