package main

import (
	"context"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/distribution/reference"
)

func (s *simulator) forceDelete(ctx context.Context, pod *v1.Pod) error {
	zero := int64(0)
	uid := pod.UID
	err := s.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	s.m.podsForceDeleted.Add(1)
	return nil
}

func (s *simulator) backoff(attempts int) time.Duration {
	d := s.cfg.backoffInitial
	for i := 1; i < attempts && d < s.cfg.backoffMax; i++ {
		d *= 2
	}
	if d > s.cfg.backoffMax {
		d = s.cfg.backoffMax
	}
	return d
}

func (s *simulator) pullDuration(node *v1.Node) time.Duration {
	base := annFloat(node, annPullSeconds, s.cfg.pullSeconds)
	if s.cfg.pullJitter > 0 {
		s.rndMu.Lock()
		f := 1 + s.cfg.pullJitter*(2*s.rnd.Float64()-1)
		s.rndMu.Unlock()
		base *= f
	}
	if base < 0 {
		base = 0
	}
	return secs(base)
}

func newPodState(pod *v1.Pod, s *simulator) *podState {
	st := &podState{uid: pod.UID, node: pod.Spec.NodeName, startTime: time.Now(),
		condTimes: map[v1.PodConditionType]time.Time{}, condStatus: map[v1.PodConditionType]v1.ConditionStatus{}}
	s.mu.Lock()
	s.nextPod++
	n := s.nextPod
	s.mu.Unlock()
	st.podIP = net.IPv4(10, byte(64+(n>>16)&0x3f), byte(n>>8), byte(n)).String()
	for _, c := range pod.Spec.InitContainers {
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
		st.ctrs = append(st.ctrs, &ctrState{name: c.Name, image: c.Image, init: true, sidecar: sidecar, spec: c,
			waitReason: "PodInitializing"})
	}
	for _, c := range pod.Spec.Containers {
		st.ctrs = append(st.ctrs, &ctrState{name: c.Name, image: c.Image, spec: c, waitReason: "PodInitializing"})
	}
	return st
}

// startFailure reports why a container cannot start on a no-shell image ("" if it can).
func startFailure(node *v1.Node, c v1.Container) string {
	if !listContains(node.Annotations[annNoShell], c.Image) || len(c.Command) == 0 {
		return ""
	}
	exe := c.Command[0]
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if strings.HasPrefix(path.Clean(exe), mp+"/") {
			return ""
		}
	}
	const prefix = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: "
	if !strings.Contains(exe, "/") {
		return prefix + fmt.Sprintf("exec: %q: executable file not found in $PATH: unknown", exe)
	}
	return prefix + fmt.Sprintf("exec: %q: stat %s: no such file or directory: unknown", exe, exe)
}

func (s *simulator) missingPullSecrets(ctx context.Context, pod *v1.Pod) ([]string, error) {
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		_, err := s.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, ref.Name)
		} else if err != nil {
			return nil, err
		}
	}
	return missing, nil
}

func (s *simulator) syncPod(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := s.podInf.GetIndexer().GetByKey(key)
	if err != nil {
		return 0, err
	}
	if !exists {
		s.mu.Lock()
		delete(s.pods, key)
		s.mu.Unlock()
		return 0, nil
	}
	pod := obj.(*v1.Pod)
	if pod.Spec.NodeName == "" {
		return 0, nil
	}
	nobj, nodeExists, _ := s.nodeInf.GetIndexer().GetByKey(pod.Spec.NodeName)
	if !nodeExists {
		// The informer may lag behind a node that was just created: ask the API.
		n, err := s.cs.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return 0, s.forceDelete(ctx, pod)
		} else if err != nil {
			return 0, err
		}
		nobj = n
	}
	node := nobj.(*v1.Node)
	if pod.DeletionTimestamp != nil {
		return 0, s.forceDelete(ctx, pod)
	}
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		return 0, nil
	}

	s.mu.Lock()
	st := s.pods[key]
	if st == nil || st.uid != pod.UID {
		s.mu.Unlock()
		st = newPodState(pod, s)
		s.mu.Lock()
		s.pods[key] = st
	}
	s.mu.Unlock()
	// One worker handles a key at a time (workqueue guarantee), so st is not shared.

	next, err := s.advance(ctx, pod, node, st)
	if err != nil {
		return 0, err
	}
	status := s.buildStatus(pod, st)
	if !apiequality.Semantic.DeepEqual(status, pod.Status) {
		upd := pod.DeepCopy()
		upd.Status = status
		if _, err := s.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return 0, nil
			}
			return 0, err
		}
		s.m.podStatusWrites.Add(1)
	}
	return next, nil
}

// advance moves the pod's containers forward as far as the clock allows and
// returns when it should be looked at again.
func (s *simulator) advance(ctx context.Context, pod *v1.Pod, node *v1.Node, st *podState) (time.Duration, error) {
	now := time.Now()
	rec := s.nodeStateFor(node.Name).recorder
	for st.cur < len(st.ctrs) && !st.failed {
		c := st.ctrs[st.cur]
		if c.until.After(now) {
			return c.until.Sub(now), nil
		}
		switch c.step {
		case stepNew, stepPullBackOff:
			missing, err := s.missingPullSecrets(ctx, pod)
			if err != nil {
				return 0, err
			}
			if len(missing) > 0 {
				list := strings.Join(missing, ", ")
				if !st.secretEvent {
					rec.Eventf(pod, v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
						"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", list)
					st.secretEvent = true
				}
				c.attempts++
				st.secretMsg = fmt.Sprintf("image pull secret(s) not found in namespace %q: %s (Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed)",
					pod.Namespace, list, list)
				for _, o := range st.ctrs[st.cur:] {
					o.step, o.waitReason, o.until = stepPullError, "ErrImagePull", now.Add(errShowDuration)
					o.waitMessage = fmt.Sprintf("failed to pull image %q: %s", o.image, st.secretMsg)
				}
				s.m.pullsFailed.Add(1)
				rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: ErrImagePull")
				return errShowDuration, nil
			}
			if st.secretMsg != "" {
				st.secretMsg = ""
				for _, o := range st.ctrs[st.cur+1:] {
					o.step, o.waitReason, o.waitMessage, o.until = stepNew, "PodInitializing", "", time.Time{}
				}
			}
			if _, err := reference.ParseDockerRef(c.image); err != nil {
				// The kubelet gives up on such a reference: no pull, no back-off.
				c.step, c.waitReason = stepInvalid, "InvalidImageName"
				c.waitMessage = fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %v", c.image, c.image, err)
				s.m.pullsFailed.Add(1)
				rec.Eventf(pod, v1.EventTypeWarning, "InspectFailed", "%s", c.waitMessage)
				rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: InvalidImageName")
				return 0, nil
			}
			if listContains(node.Annotations[annUnpullable], c.image) {
				norm := normalizeRef(c.image)
				c.attempts++
				c.step, c.waitReason, c.until = stepPullError, "ErrImagePull", now.Add(errShowDuration)
				c.waitMessage = fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", norm, norm, norm)
				s.m.pullsFailed.Add(1)
				rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", c.image, c.waitMessage)
				rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: ErrImagePull")
				return errShowDuration, nil
			}
			held, heldID := s.nodeHolds(node, c.image)
			if held && c.spec.ImagePullPolicy != v1.PullAlways {
				s.m.pullsSkipped.Add(1)
				rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.image)
				c.imageID = heldID
				if err := s.start(pod, node, st, c, now); err != nil {
					return 0, err
				}
				continue
			}
			d := s.pullDuration(node)
			if held {
				d = 0 // PullAlways on a held image: only a manifest check
			}
			s.m.pullsStarted.Add(1)
			rec.Eventf(pod, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.image)
			c.step, c.until, c.pullStart = stepPulling, now.Add(d), now
			if c.init {
				c.waitReason = "PodInitializing"
			} else {
				c.waitReason = "ContainerCreating"
			}
			c.waitMessage = ""
			if d > 0 {
				return d, nil
			}
		case stepPulling:
			s.m.pullsCompleted.Add(1)
			c.imageID = digestRef(c.image)
			s.recordPulled(node, c.image)
			took := now.Sub(c.pullStart).Round(time.Millisecond)
			rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.",
				c.image, took, took, fakeSize(c.image))
			if err := s.start(pod, node, st, c, now); err != nil {
				return 0, err
			}
		case stepPullError:
			c.step, c.waitReason = stepPullBackOff, "ImagePullBackOff"
			c.waitMessage = fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.image, c.waitMessage)
			c.until = now.Add(s.backoff(c.attempts))
			if st.secretMsg != "" {
				for _, o := range st.ctrs[st.cur+1:] {
					o.step, o.waitReason, o.until = stepPullBackOff, "ImagePullBackOff", c.until
					o.waitMessage = fmt.Sprintf("Back-off pulling image %q: ErrImagePull: failed to pull image %q: %s", o.image, o.image, st.secretMsg)
				}
			}
			c.until = now.Add(s.backoff(c.attempts))
			rec.Eventf(pod, v1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.image)
			rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
			return c.until.Sub(now), nil
		case stepStartError:
			c.step, c.waitReason = stepCrashBackOff, "CrashLoopBackOff"
			c.until = now.Add(s.backoff(c.attempts))
			c.waitMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				s.backoff(c.attempts), c.name, pod.Name, pod.Namespace, pod.UID)
			rec.Eventf(pod, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.name, pod.Name, pod.Namespace, pod.UID)
			return c.until.Sub(now), nil
		case stepCrashBackOff:
			c.restarts++
			if err := s.start(pod, node, st, c, now); err != nil {
				return 0, err
			}
		case stepRunning, stepDone:
			st.cur++
		case stepFailed:
			st.failed = true
		case stepInvalid:
			return 0, nil
		}
	}
	return 0, nil
}

// start "starts" a container whose image is present.
func (s *simulator) start(pod *v1.Pod, node *v1.Node, st *podState, c *ctrState, now time.Time) error {
	rec := s.nodeStateFor(node.Name).recorder
	if msg := startFailure(node, c.spec); msg != "" {
		s.m.startErrors.Add(1)
		c.attempts++
		c.lastTerm = &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: msg,
			StartedAt: metav1.NewTime(time.Unix(0, 0).UTC()), FinishedAt: mt(now), ContainerID: containerID(pod, c)}
		rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %s", msg)
		never := pod.Spec.RestartPolicy == v1.RestartPolicyNever && !c.sidecar
		if never {
			c.step = stepFailed
			return nil
		}
		c.step, c.until, c.waitReason, c.waitMessage = stepStartError, now.Add(errShowDuration), "RunContainerError", msg
		return nil
	}
	rec.Eventf(pod, v1.EventTypeNormal, "Created", "Created container: %s", c.name)
	rec.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.name)
	c.startedAt = now
	c.waitReason, c.waitMessage = "", ""
	if c.init && !c.sidecar {
		c.step, c.finishedAt = stepDone, now
	} else {
		c.step = stepRunning
	}
	return nil
}

func containerID(pod *v1.Pod, c *ctrState) string {
	return "containerd://" + strings.TrimPrefix(fakeDigest(string(pod.UID)+"/"+c.name+"/"+fmt.Sprint(c.restarts)), "sha256:")
}

func (s *simulator) ctrStatus(pod *v1.Pod, c *ctrState) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.name, Image: c.image, ImageID: c.imageID, RestartCount: c.restarts}
	f := false
	cs.Started = &f
	switch c.step {
	case stepDone:
		cs.Ready = true
		cs.ContainerID = containerID(pod, c)
		cs.State.Terminated = &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
			StartedAt: mt(c.startedAt), FinishedAt: mt(c.finishedAt), ContainerID: cs.ContainerID}
	case stepRunning:
		t := true
		cs.Ready, cs.Started = true, &t
		cs.ContainerID = containerID(pod, c)
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: mt(c.startedAt)}
	case stepStartError, stepFailed:
		cs.ContainerID = c.lastTerm.ContainerID
		cs.State.Terminated = c.lastTerm.DeepCopy()
	default:
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMessage}
	}
	if c.step == stepCrashBackOff && c.lastTerm != nil {
		cs.LastTerminationState.Terminated = c.lastTerm.DeepCopy()
	} else if c.restarts > 0 && c.lastTerm != nil && c.step != stepStartError {
		cs.LastTerminationState.Terminated = c.lastTerm.DeepCopy()
	}
	if c.imageID == "" {
		cs.ImageID = ""
	}
	return cs
}

func (s *simulator) setCond(st *podState, t v1.PodConditionType, status v1.ConditionStatus, now time.Time) {
	if st.condStatus[t] != status {
		st.condStatus[t] = status
		st.condTimes[t] = now
	}
}

func (s *simulator) buildStatus(pod *v1.Pod, st *podState) v1.PodStatus {
	now := time.Now()
	out := *pod.Status.DeepCopy()
	nodeState := s.nodeStateFor(pod.Spec.NodeName)
	out.HostIP = nodeState.hostIP
	out.HostIPs = []v1.HostIP{{IP: nodeState.hostIP}}
	if pod.Spec.HostNetwork {
		out.PodIP = nodeState.hostIP
	} else {
		out.PodIP = st.podIP
	}
	out.PodIPs = []v1.PodIP{{IP: out.PodIP}}
	if out.StartTime == nil {
		t := mt(st.startTime)
		out.StartTime = &t
	}
	out.InitContainerStatuses = nil
	out.ContainerStatuses = nil
	var pendingInit, unready []string
	allInitDone, allRunning := true, true
	for _, c := range st.ctrs {
		cs := s.ctrStatus(pod, c)
		if c.init {
			out.InitContainerStatuses = append(out.InitContainerStatuses, cs)
			if !(c.step == stepDone || (c.sidecar && c.step == stepRunning)) {
				allInitDone = false
				pendingInit = append(pendingInit, c.name)
			}
		} else {
			out.ContainerStatuses = append(out.ContainerStatuses, cs)
			if c.step != stepRunning {
				allRunning = false
				unready = append(unready, c.name)
			}
		}
	}
	s.setCond(st, v1.PodReadyToStartContainers, v1.ConditionTrue, now)
	if allInitDone {
		s.setCond(st, v1.PodInitialized, v1.ConditionTrue, now)
	} else {
		s.setCond(st, v1.PodInitialized, v1.ConditionFalse, now)
	}
	ready := v1.ConditionFalse
	if allInitDone && allRunning {
		ready = v1.ConditionTrue
	}
	s.setCond(st, v1.ContainersReady, ready, now)
	s.setCond(st, v1.PodReady, ready, now)
	cond := func(t v1.PodConditionType, reason, msg string) v1.PodCondition {
		c := v1.PodCondition{Type: t, Status: st.condStatus[t], LastTransitionTime: mt(st.condTimes[t])}
		if c.Status != v1.ConditionTrue {
			c.Reason, c.Message = reason, msg
		}
		return c
	}
	ours := []v1.PodCondition{
		cond(v1.PodReadyToStartContainers, "", ""),
		cond(v1.PodInitialized, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pendingInit, " "))),
		cond(v1.PodReady, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))),
		cond(v1.ContainersReady, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))),
	}
	// keep conditions written by others (PodScheduled, DisruptionTarget, ...), and their order
	conds := make([]v1.PodCondition, 0, len(out.Conditions)+len(ours))
	mine := map[v1.PodConditionType]v1.PodCondition{}
	for _, c := range ours {
		mine[c.Type] = c
	}
	for _, c := range out.Conditions {
		if m, ok := mine[c.Type]; ok {
			if c.Status == m.Status && c.Reason == m.Reason && c.Message == m.Message {
				m.LastTransitionTime = c.LastTransitionTime
			}
			conds = append(conds, m)
			delete(mine, c.Type)
		} else {
			conds = append(conds, c)
		}
	}
	for _, c := range ours {
		if m, ok := mine[c.Type]; ok {
			conds = append(conds, m)
		}
	}
	hasScheduled := false
	for _, c := range conds {
		hasScheduled = hasScheduled || c.Type == v1.PodScheduled
	}
	if !hasScheduled { // pods created with spec.nodeName bypass the scheduler; the kubelet reports it anyway
		conds = append([]v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: mt(st.startTime)}}, conds...)
	}
	out.Conditions = conds
	switch {
	case st.failed:
		out.Phase = v1.PodFailed
	case allInitDone && allRunning:
		out.Phase = v1.PodRunning
	default:
		out.Phase = v1.PodPending
	}
	return out
}

// podKeysOnNode returns the keys of pods bound to a node (for node deletion).
func (s *simulator) podKeysOnNode(node string) []string {
	objs, _ := s.podInf.GetIndexer().ByIndex(nodeIndex, node)
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}
