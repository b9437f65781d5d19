package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// runSelftest is `localcluster selftest --kubeconfig F`: exercises the
// simulator through the API only (the same way the project's tests do) and
// prints one line per check. Exit status 1 if any check fails.
func runSelftest(args []string) int {
	fs := flag.NewFlagSet("selftest", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "/tmp/prepuller-cluster/kubeconfig", "admin kubeconfig")
	ns := fs.String("namespace", "selftest", "namespace to use (created and deleted)")
	_ = fs.Parse(args)
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	t := &selftest{cs: cs, cfg: cfg, ns: *ns, ctx: ctx}
	t.run()
	if t.failed {
		fmt.Println("SELFTEST FAILED")
		return 1
	}
	fmt.Println("SELFTEST OK")
	return 0
}

type selftest struct {
	cs     kubernetes.Interface
	cfg    *rest.Config
	ns     string
	ctx    context.Context
	failed bool
	t0     time.Time
}

func (t *selftest) check(name string, ok bool, detail string, a ...interface{}) {
	st := "ok  "
	if !ok {
		st = "FAIL"
		t.failed = true
	}
	fmt.Printf("%s %-55s %s (t=%.1fs)\n", st, name, fmt.Sprintf(detail, a...), time.Since(t.t0).Seconds())
}

func (t *selftest) poll(timeout time.Duration, f func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		ok, m := f()
		msg = m
		if ok || time.Now().After(deadline) {
			return ok, msg
		}
		time.Sleep(time.Second)
	}
}

func pauseDS(name string, images []string, nodeName string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	var inits []v1.Container
	f, tr := false, true
	uid := int64(65534)
	sc := &v1.SecurityContext{AllowPrivilegeEscalation: &f, RunAsNonRoot: &tr, RunAsUser: &uid,
		Capabilities: &v1.Capabilities{Drop: []v1.Capability{"ALL"}}, SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}}
	for i, img := range images {
		inits = append(inits, v1.Container{Name: fmt.Sprintf("pull-%d", i), Image: img,
			Command: []string{"/pp/true"}, VolumeMounts: []v1.VolumeMount{{Name: "pp", MountPath: "/pp"}}, SecurityContext: sc})
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{
					InitContainers: inits,
					Containers:     []v1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10", SecurityContext: sc}},
					Volumes:        []v1.Volume{{Name: "pp", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	if nodeName != "" {
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": nodeName}
	}
	return ds
}

func (t *selftest) run() {
	t.t0 = time.Now()
	ctx, cs, ns := t.ctx, t.cs, t.ns
	_, err := cs.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, metav1.CreateOptions{})
	t.check("create namespace (PodSecurity restricted)", err == nil || apierrors.IsAlreadyExists(err), "%v", err)
	ok, msg := t.poll(60*time.Second, func() (bool, string) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	t.check("default ServiceAccount created in namespace", ok, msg)

	// TokenRequest for a limited ServiceAccount.
	_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited"}}, metav1.CreateOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) {
		exp := int64(600)
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "limited", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		t.check("TokenRequest for a ServiceAccount", err == nil && tr.Status.Token != "", "%v", err)
		if err == nil {
			scfg := rest.AnonymousClientConfig(t.cfg)
			scfg.BearerToken = tr.Status.Token
			scs := kubernetes.NewForConfigOrDie(scfg)
			_, err = scs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			t.check("RBAC denies the token listing nodes", apierrors.IsForbidden(err), "%v", err)
		}
	}

	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.check("list nodes", false, "%v", err)
		return
	}
	n := len(nodes.Items)
	images := []string{"docker.io/library/selftest-a:1", "quay.io/selftest/b:2"}
	_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, pauseDS("pull", images, ""), metav1.CreateOptions{})
	t.check("create DaemonSet (2 init containers + pause)", err == nil, "%v", err)
	ok, msg = t.poll(600*time.Second, func() (bool, string) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pull"})
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == n && len(pods.Items) == n, fmt.Sprintf("%d/%d pods Ready", ready, n)
	})
	t.check("one Ready DaemonSet pod per node", ok, msg)
	pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pull"})
	if len(pods.Items) > 0 {
		p := pods.Items[0]
		good := len(p.Status.InitContainerStatuses) == 2
		for _, s := range p.Status.InitContainerStatuses {
			good = good && s.State.Terminated != nil && s.State.Terminated.Reason == "Completed" && strings.Contains(s.ImageID, "@sha256:")
		}
		t.check("init containers Completed with imageID", good, "%s: %+v", p.Name, p.Status.InitContainerStatuses)
		t.check("pod Running with podIP/hostIP", p.Status.Phase == v1.PodRunning && p.Status.PodIP != "" && p.Status.HostIP != "", "%s %s %s", p.Status.Phase, p.Status.PodIP, p.Status.HostIP)
	}
	ok, msg = t.poll(30*time.Second, func() (bool, string) {
		nodes, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		have := 0
		for _, nd := range nodes.Items {
			c := 0
			for _, img := range nd.Status.Images {
				for _, nm := range img.Names {
					if nm == images[0] || nm == images[1] {
						c++
					}
				}
			}
			if c == 2 {
				have++
			}
		}
		return have == n, fmt.Sprintf("%d/%d nodes list both images", have, n)
	})
	t.check("node.status.images records the pulled images", ok, msg)

	// A node created through the API is adopted and gets a DaemonSet pod.
	_, err = cs.CoreV1().Nodes().Create(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "selftest-late"}}, metav1.CreateOptions{})
	t.check("create node selftest-late through the API", err == nil, "%v", err)
	ok, msg = t.poll(60*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=selftest-late"})
		for _, p := range pods.Items {
			if p.Status.Phase == v1.PodRunning {
				return true, p.Name + " Running"
			}
		}
		return false, fmt.Sprintf("%d pods on the new node", len(pods.Items))
	})
	t.check("late node adopted and runs a DaemonSet pod", ok, msg)

	// Deleting the DaemonSet removes its pods (garbage collector + finalization).
	bg := metav1.DeletePropagationBackground
	err = cs.AppsV1().DaemonSets(ns).Delete(ctx, "pull", metav1.DeleteOptions{PropagationPolicy: &bg})
	t.check("delete DaemonSet", err == nil, "%v", err)
	ok, msg = t.poll(60*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pull"})
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
	})
	t.check("DaemonSet pods are gone", ok, msg)

	// Deleting a node removes the pods bound to it.
	_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, pauseDS("late", []string{"docker.io/library/selftest-a:1"}, "selftest-late"), metav1.CreateOptions{})
	t.check("create DaemonSet pinned to selftest-late", err == nil, "%v", err)
	t.poll(30*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=late"})
		return len(pods.Items) == 1, ""
	})
	err = cs.CoreV1().Nodes().Delete(ctx, "selftest-late", metav1.DeleteOptions{})
	t.check("delete node selftest-late", err == nil, "%v", err)
	ok, msg = t.poll(60*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=selftest-late"})
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left on the deleted node", len(pods.Items))
	})
	t.check("pods of a deleted node are removed", ok, msg)
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "late", metav1.DeleteOptions{PropagationPolicy: &bg})

	// Unpullable image on node-1.
	first := nodes.Items[0].Name
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"docker.io/library/missing:1"}}}`, annUnpullable)
	_, err = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	t.check("annotate node unpullable", err == nil, "%v", err)
	_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, pauseDS("bad", []string{"missing:1"}, first), metav1.CreateOptions{})
	t.check("create DaemonSet with an unpullable image", err == nil, "%v", err)
	seen := map[string]bool{}
	ok, msg = t.poll(40*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=bad"})
		for _, p := range pods.Items {
			for _, s := range p.Status.InitContainerStatuses {
				if s.State.Waiting != nil && strings.Contains(s.State.Waiting.Reason, "Image") {
					if !seen[s.State.Waiting.Reason] {
						fmt.Printf("     %s: %s\n", s.State.Waiting.Reason, s.State.Waiting.Message)
					}
					seen[s.State.Waiting.Reason] = true
				}
			}
		}
		return seen["ErrImagePull"] && seen["ImagePullBackOff"], fmt.Sprintf("seen %v", seen)
	})
	t.check("unpullable image shows ErrImagePull then ImagePullBackOff", ok, msg)
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "bad", metav1.DeleteOptions{PropagationPolicy: &bg})
	_, _ = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, annUnpullable)), metav1.PatchOptions{})

	// No-shell image: command on a mounted volume works, /bin/sh does not.
	patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:"distroless:1"}}}`, annNoShell)
	_, _ = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	good := pauseDS("noshell-ok", []string{"distroless:1"}, first)
	bad := pauseDS("noshell-bad", []string{"distroless:1"}, first)
	bad.Spec.Template.Spec.InitContainers[0].Command = []string{"/bin/sh", "-c", "true"}
	_, err1 := cs.AppsV1().DaemonSets(ns).Create(ctx, good, metav1.CreateOptions{})
	_, err2 := cs.AppsV1().DaemonSets(ns).Create(ctx, bad, metav1.CreateOptions{})
	t.check("create no-shell DaemonSets", err1 == nil && err2 == nil, "%v %v", err1, err2)
	ok, msg = t.poll(60*time.Second, func() (bool, string) {
		okPods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=noshell-ok"})
		badPods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=noshell-bad"})
		running, crash := false, false
		for _, p := range okPods.Items {
			running = p.Status.Phase == v1.PodRunning
		}
		for _, p := range badPods.Items {
			for _, s := range p.Status.InitContainerStatuses {
				if s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" && s.LastTerminationState.Terminated != nil &&
					s.LastTerminationState.Terminated.Reason == "StartError" {
					crash = true
				}
			}
		}
		return running && crash, fmt.Sprintf("mounted-command pod running=%v, /bin/sh pod CrashLoopBackOff(StartError)=%v", running, crash)
	})
	t.check("no-shell image: volume command runs, /bin/sh fails", ok, msg)
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "noshell-ok", metav1.DeleteOptions{PropagationPolicy: &bg})
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "noshell-bad", metav1.DeleteOptions{PropagationPolicy: &bg})
	_, _ = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, annNoShell)), metav1.PatchOptions{})

	// Missing pull secret.
	sec := pauseDS("secret", []string{"private:1"}, first)
	sec.Spec.Template.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "does-not-exist"}}
	_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, sec, metav1.CreateOptions{})
	t.check("create DaemonSet with a missing pull secret", err == nil, "%v", err)
	ok, msg = t.poll(40*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=secret"})
		for _, p := range pods.Items {
			for _, s := range p.Status.InitContainerStatuses {
				if s.State.Waiting != nil && s.State.Waiting.Reason == "ErrImagePull" && strings.Contains(s.State.Waiting.Message, "does-not-exist") {
					ev, _ := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedToRetrieveImagePullSecret"})
					return len(ev.Items) > 0, s.State.Waiting.Message
				}
			}
		}
		return false, "no ErrImagePull naming the secret yet"
	})
	t.check("missing pull secret: Warning event + ErrImagePull", ok, msg)
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "secret", metav1.DeleteOptions{PropagationPolicy: &bg})

	// Invalid reference.
	inv := pauseDS("invalid", []string{"Not/A:Valid:Ref"}, first)
	_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, inv, metav1.CreateOptions{})
	t.check("create DaemonSet with an invalid image reference", err == nil, "%v", err)
	ok, msg = t.poll(40*time.Second, func() (bool, string) {
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=invalid"})
		for _, p := range pods.Items {
			for _, s := range p.Status.InitContainerStatuses {
				if s.State.Waiting != nil && s.State.Waiting.Reason == "InvalidImageName" {
					return true, s.State.Waiting.Message
				}
			}
		}
		return false, "no InvalidImageName yet"
	})
	t.check("invalid reference: InvalidImageName", ok, msg)
	_ = cs.AppsV1().DaemonSets(ns).Delete(ctx, "invalid", metav1.DeleteOptions{PropagationPolicy: &bg})

	// Ready=false annotation.
	_, err = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:"false"}}}`, annReady)), metav1.PatchOptions{})
	t.check("annotate node ready=false", err == nil, "%v", err)
	ok, msg = t.poll(30*time.Second, func() (bool, string) {
		nd, err := cs.CoreV1().Nodes().Get(ctx, first, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range nd.Status.Conditions {
			if c.Type == v1.NodeReady && c.Status == v1.ConditionFalse {
				return true, c.Message
			}
		}
		return false, "still Ready"
	})
	t.check("node reports Ready=False", ok, msg)
	_, _ = cs.CoreV1().Nodes().Patch(ctx, first, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, annReady)), metav1.PatchOptions{})
	ok, msg = t.poll(30*time.Second, func() (bool, string) {
		nd, _ := cs.CoreV1().Nodes().Get(ctx, first, metav1.GetOptions{})
		for _, c := range nd.Status.Conditions {
			if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
				return len(nd.Spec.Taints) == 0, fmt.Sprintf("taints %v", nd.Spec.Taints)
			}
		}
		return false, "not Ready"
	})
	t.check("node Ready again without not-ready taints", ok, msg)

	err = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	t.check("delete namespace", err == nil, "%v", err)
	ok, msg = t.poll(90*time.Second, func() (bool, string) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	t.check("namespace deletion completes", ok, msg)
}
