package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// runCheck is `localcluster check`: one readiness probe used by cluster.sh up.
// Exit 0 when the apiserver is ready, at least --nodes nodes are Ready and rid of
// the not-ready taint (a kubelet registers with it, and the node lifecycle
// controller removes it seconds after the node turns Ready: until then no pod of
// a test is scheduled there), and the default ServiceAccount exists in namespace
// default.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	dir := fs.String("dir", "/tmp/prepuller-cluster", "state directory")
	nodes := fs.Int("nodes", 3, "number of Ready nodes required")
	_ = fs.Parse(args)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(*dir, "kubeconfig"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig not written yet:", err)
		return 1
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	if body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil || string(body) != "ok" {
		fmt.Fprintln(os.Stderr, "apiserver not ready:", err)
		return 1
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "list nodes:", err)
		return 1
	}
	ready := 0
	for _, n := range list.Items {
		tainted := false
		for _, t := range n.Spec.Taints {
			if t.Key == v1.TaintNodeNotReady || t.Key == v1.TaintNodeUnreachable {
				tainted = true
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue && !tainted {
				ready++
			}
		}
	}
	if ready < *nodes {
		fmt.Fprintf(os.Stderr, "%d/%d nodes Ready without the not-ready taint\n", ready, *nodes)
		return 1
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "default ServiceAccount:", err)
		return 1
	}
	return 0
}
