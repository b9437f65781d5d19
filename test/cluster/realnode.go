package main

// A real node: the upstream kubelet (k8s.io/kubernetes/cmd/kubelet, built by
// cluster.sh) on Debian's containerd and runc with the CNI bridge plugin,
// joined to this control plane with a node client certificate. Everything it
// creates lives under <dir>/realnode-N, on a dummy interface and a bridge of
// its own (a veth pair, and addresses in 198.18.0.0/15, off the private ranges), and is
// removed by teardown, or by `localcluster cleanup` after a SIGKILL.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
	criremote "k8s.io/cri-client/pkg"
)

const (
	realNodeLabel  = "prepuller.test/real-node"
	containerdPath = "/usr/bin/containerd"
	runcPath       = "/usr/sbin/runc"
	cniBinDir      = "/usr/lib/cni"
	podLogLinkDir  = "/var/log/containers" // the kubelet's fixed directory of log symlinks
)

// realNodeRecord is written to <dir>/realnode-N/realnode.json: what cleanup must remove.
type realNodeRecord struct {
	Name      string `json:"name"`
	Dir       string `json:"dir"`
	Dummy     string `json:"nodeInterface"` // one end of a veth pair holding the node IP
	Bridge    string `json:"bridgeInterface"`
	NodeIP    string `json:"nodeIP"`
	PodSubnet string `json:"podSubnet"`
	Socket    string `json:"containerdSocket"`
	RuncRoot  string `json:"runcRoot"`
}

type realNode struct {
	rec        realNodeRecord
	containerd *exec.Cmd
	kubelet    *exec.Cmd
	exited     chan error
}

type realNodeOptions struct {
	index        int
	clusterDir   string
	apiServer    string
	apiPort      int
	pki          *pki
	registry     *localRegistry
	kubeletPath  string
	pauseImage   string
	maxImages    int
	kubeletFlags []string
	// kubeletConfig holds extra top-level KubeletConfiguration lines (fields with no flag, such
	// as imageMaximumGCAge).
	kubeletConfig []string
}

func realNodeName(i int) string { return "real-node-" + strconv.Itoa(i) }

// startRealNode starts containerd and the kubelet for one node and returns once both run.
func startRealNode(ctx context.Context, o realNodeOptions) (*realNode, error) {
	name := realNodeName(o.index)
	dir := filepath.Join(o.clusterDir, "realnode-"+strconv.Itoa(o.index))
	hi, lo := byte(o.apiPort>>8), byte(o.apiPort)
	rec := realNodeRecord{
		Name: name, Dir: dir,
		Dummy:     fmt.Sprintf("ppn%d", o.apiPort),
		Bridge:    fmt.Sprintf("ppb%d", o.apiPort),
		NodeIP:    fmt.Sprintf("198.18.%d.%d", hi, lo),
		PodSubnet: fmt.Sprintf("198.19.%d.0/24", lo),
		Socket:    filepath.Join(dir, "containerd", "containerd.sock"),
		RuncRoot:  filepath.Join(dir, "runc"),
	}
	for _, d := range []string{"containerd/root", "containerd/state", "containerd/certs.d", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "runc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := writeJSON(filepath.Join(dir, "realnode.json"), rec); err != nil {
		return nil, err
	}
	// The node's address lives on a veth pair of its own (this sandbox has no dummy interfaces);
	// deleting one end deletes both.
	if err := runCommand("ip", "link", "add", rec.Dummy, "type", "veth", "peer", "name", rec.Dummy+"p"); err != nil {
		return nil, fmt.Errorf("the real node needs a network interface of its own: %w", err)
	}
	if err := runCommand("ip", "addr", "add", rec.NodeIP+"/32", "dev", rec.Dummy); err != nil {
		return nil, err
	}
	for _, link := range []string{rec.Dummy, rec.Dummy + "p"} {
		if err := runCommand("ip", "link", "set", link, "up"); err != nil {
			return nil, err
		}
	}
	if err := writeContainerdConfig(rec, o); err != nil {
		return nil, err
	}
	n := &realNode{rec: rec, exited: make(chan error, 2)}
	var err error
	if n.containerd, err = startLogged(filepath.Join(dir, "containerd.log"), containerdPath, "--config", filepath.Join(dir, "containerd", "config.toml")); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	go func() { n.exited <- fmt.Errorf("containerd exited: %v (log: %s)", n.containerd.Wait(), filepath.Join(dir, "containerd.log")) }()
	if err := waitForSocket(ctx, rec.Socket, n.exited, 60*time.Second); err != nil {
		return nil, err
	}
	if err := writeKubeletFiles(rec, o); err != nil {
		return nil, err
	}
	args := []string{
		"--config=" + filepath.Join(dir, "kubelet", "config.yaml"),
		"--kubeconfig=" + filepath.Join(dir, "kubelet", "kubeconfig"),
		"--root-dir=" + filepath.Join(dir, "kubelet"),
		"--cert-dir=" + filepath.Join(dir, "kubelet", "pki"),
		"--hostname-override=" + name,
		"--node-ip=" + rec.NodeIP,
		"--node-labels=" + realNodeLabel + "=true",
		"--v=2",
	}
	args = append(args, o.kubeletFlags...)
	if n.kubelet, err = startLogged(filepath.Join(dir, "kubelet.log"), o.kubeletPath, args...); err != nil {
		return nil, fmt.Errorf("start kubelet: %w", err)
	}
	go func() { n.exited <- fmt.Errorf("kubelet exited: %v (log: %s)", n.kubelet.Wait(), filepath.Join(dir, "kubelet.log")) }()
	klog.InfoS("real node started", "node", name, "ip", rec.NodeIP, "dir", dir)
	return n, nil
}

func writeContainerdConfig(rec realNodeRecord, o realNodeOptions) error {
	d := filepath.Join(rec.Dir, "containerd")
	host := o.registry.addr
	hostsDir := filepath.Join(d, "certs.d", host)
	if err := os.MkdirAll(hostsDir, 0o700); err != nil {
		return err
	}
	hosts := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n",
		"https://"+host, "https://"+host, o.registry.caFile)
	if err := os.WriteFile(filepath.Join(hostsDir, "hosts.toml"), []byte(hosts), 0o600); err != nil {
		return err
	}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # This sandbox may not lower oom_score_adj below containerd's own (the pause container asks -998).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = %[7]q
        Root = %[8]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[9]q
    conf_dir = %[10]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[11]q
`, filepath.Join(d, "root"), filepath.Join(d, "state"), rec.Socket, rec.Socket+".ttrpc", filepath.Join(d, "opt"),
		o.pauseImage, runcPath, rec.RuncRoot, cniBinDir, filepath.Join(rec.Dir, "cni", "net.d"), filepath.Join(d, "certs.d"))
	if err := os.WriteFile(filepath.Join(d, "config.toml"), []byte(config), 0o600); err != nil {
		return err
	}
	_, subnet, err := net.ParseCIDR(rec.PodSubnet)
	if err != nil {
		return err
	}
	cni := map[string]interface{}{
		"cniVersion": "0.4.0", "name": "prepuller-" + rec.Bridge,
		"plugins": []interface{}{map[string]interface{}{
			"type": "bridge", "bridge": rec.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": false,
			"ipam": map[string]interface{}{
				"type": "host-local", "dataDir": filepath.Join(rec.Dir, "cni", "ipam"),
				"ranges": []interface{}{[]interface{}{map[string]string{"subnet": subnet.String()}}},
			},
		}},
	}
	return writeJSON(filepath.Join(rec.Dir, "cni", "net.d", "10-prepuller.conflist"), cni)
}

func writeKubeletFiles(rec realNodeRecord, o realNodeOptions) error {
	d := filepath.Join(rec.Dir, "kubelet")
	certPEM, keyPEM, err := o.pki.nodeClientCert(rec.Name)
	if err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: localcluster
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: %s
  user: {client-certificate-data: %s, client-key-data: %s}
contexts:
- name: node
  context: {cluster: localcluster, user: %s}
current-context: node
`, o.apiServer, base64Std(o.pki.caPEM), rec.Name, base64Std(certPEM), base64Std(keyPEM), rec.Name)
	if err := os.WriteFile(filepath.Join(d, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	// Upstream defaults except what this sandbox needs: cgroups v1 with the cgroupfs
	// driver and no per-QoS hierarchy, its own ports and directories, no swap check,
	// and the taint that keeps every other test's pods off this node.
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: %s
port: %d
readOnlyPort: 0
healthzPort: 0
podLogsDir: %q
nodeStatusMaxImages: %d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
registerWithTaints:
- {key: %s, value: "true", effect: NoSchedule}
`, rec.Socket, rec.NodeIP, port, filepath.Join(rec.Dir, "pod-logs"), o.maxImages, o.pki.caCert, realNodeLabel)
	for _, line := range o.kubeletConfig {
		config += strings.TrimSpace(line) + "\n"
	}
	return os.WriteFile(filepath.Join(d, "config.yaml"), []byte(config), 0o600)
}

// teardown stops the kubelet, removes every pod sandbox through the CRI (so the
// shims, containers, mounts and pod interfaces go the regular way), stops
// containerd, then removes whatever is left.
func (n *realNode) teardown() {
	stopProcess(n.kubelet, 10*time.Second)
	removeSandboxes(n.rec.Socket, 30*time.Second)
	stopProcess(n.containerd, 10*time.Second)
	cleanupRealNode(n.rec)
}

func removeSandboxes(socket string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	svc, err := criremote.NewRemoteRuntimeService(ctx, "unix://"+socket, 10*time.Second, nil, false)
	if err != nil {
		klog.InfoS("real node: CRI not reachable for teardown", "err", err)
		return
	}
	sandboxes, err := svc.ListPodSandbox(ctx, nil)
	if err != nil {
		klog.InfoS("real node: list sandboxes", "err", err)
		return
	}
	for _, s := range sandboxes {
		if err := svc.StopPodSandbox(ctx, s.Id); err != nil {
			klog.InfoS("real node: stop sandbox", "id", s.Id, "err", err)
		}
		if err := svc.RemovePodSandbox(ctx, s.Id); err != nil {
			klog.InfoS("real node: remove sandbox", "id", s.Id, "err", err)
		}
	}
}

// cleanupRealNode removes what a real node may have left, even after a SIGKILL:
// processes started for it (shims and their containers), mounts under its
// directory, its interfaces and the kubelet's log symlinks into its directory.
// Idempotent.
func cleanupRealNode(rec realNodeRecord) {
	// Containers first (runc knows them), then any process that names our directory.
	if out, err := exec.Command(runcPath, "--root", filepath.Join(rec.RuncRoot, "k8s.io"), "list", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command(runcPath, "--root", filepath.Join(rec.RuncRoot, "k8s.io"), "delete", "--force", id).Run()
		}
	}
	killProcessesMentioning(rec.Dir)
	unmountUnder(rec.Dir)
	for _, link := range []string{rec.Bridge, rec.Dummy} {
		if _, err := net.InterfaceByName(link); err == nil {
			_ = runCommand("ip", "link", "del", link)
		}
	}
	if entries, err := os.ReadDir(podLogLinkDir); err == nil {
		for _, e := range entries {
			p := filepath.Join(podLogLinkDir, e.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, rec.Dir+"/") {
				_ = os.Remove(p)
			}
		}
	}
}

// killProcessesMentioning SIGKILLs every process whose command line contains dir (not this one).
func killProcessesMentioning(dir string) {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder detaches every mount point below dir, deepest first.
func unmountUnder(dir string) {
	for attempt := 0; attempt < 5; attempt++ {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return
		}
		var points []string
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 4 {
				mp := unescapeMountPath(fields[4])
				if mp == dir || strings.HasPrefix(mp, dir+"/") {
					points = append(points, mp)
				}
			}
		}
		if len(points) == 0 {
			return
		}
		sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
		for _, mp := range points {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
}

func unescapeMountPath(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// runCleanup is `localcluster cleanup --dir D`: removes what real nodes of a killed cluster left.
func runCleanup(args []string) int {
	dir := ""
	for _, a := range args {
		if strings.HasPrefix(a, "--dir=") {
			dir = strings.TrimPrefix(a, "--dir=")
		}
	}
	if dir == "" {
		fmt.Fprintln(os.Stderr, "cleanup: --dir=DIR is required")
		return 2
	}
	records, _ := filepath.Glob(filepath.Join(dir, "realnode-*", "realnode.json"))
	for _, f := range records {
		var rec realNodeRecord
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &rec) != nil {
			continue
		}
		cleanupRealNode(rec)
	}
	return 0
}

func runCommand(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func startLogged(logFile, path string, args ...string) (*exec.Cmd, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Killed with this process if it dies without tearing down (cleanup removes the rest).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	return cmd, nil
}

func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if cmd.ProcessState != nil || syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

func waitForSocket(ctx context.Context, socket string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return err
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if c, err := net.DialTimeout("unix", socket, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("containerd did not open %s within %s", socket, timeout)
}

func writeJSON(path string, v interface{}) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
