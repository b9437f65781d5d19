package main

// The pod half of the simulated kubelet: containers in order (init containers
// one at a time), image pulls serialized per node (serializeImagePulls), pull
// credentials from the pod's pull secrets, start errors on images without a
// shell, back-off, eviction, graceful termination, and the container statuses
// the kubelet writes on containerd (image = first RepoTag, imageID = first
// RepoDigest).

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

type ctrStep int

const (
	stepNew ctrStep = iota
	stepPulling
	stepPullError   // ErrImagePull shown
	stepPullBackOff // ImagePullBackOff shown
	stepStartError  // terminated StartError shown
	stepCrashBackOff
	stepRunning
	stepDone // init container completed
	stepFailed
	stepInvalid // InvalidImageName, final
)

type ctrState struct {
	name, image   string
	init, sidecar bool
	spec          v1.Container
	step          ctrStep
	until         time.Time // end of the current timed step
	attempts      int       // failed pull / start attempts, for back-off
	restarts      int32
	imageID       string // first RepoDigest of the image the container was created from
	runtimeImage  string // first RepoTag, or the image ID when pulled by digest only
	startedAt     time.Time
	queuedAt      time.Time
	pullStartedAt time.Time // got the puller (serialized: its turn; parallel: a slot)
	job           *pullJob  // the parallel pull under way (serializeImagePulls: false)
	finishedAt    time.Time
	waitReason    string
	waitMessage   string
	lastTerm      *v1.ContainerStateTerminated
	term          *v1.ContainerStateTerminated // set when the pod was terminated
	pulledContent imageContent
	pullSecrets   []podSecret // the pod's secrets with credentials for the image's registry
}

type podState struct {
	uid        types.UID
	node       string
	podIP      string
	startTime  time.Time
	ctrs       []*ctrState
	cur        int
	condTimes  map[v1.PodConditionType]time.Time
	condStatus map[v1.PodConditionType]v1.ConditionStatus
	failed     bool
	sandbox    bool   // the runtime created the pod's sandbox (PodReadyToStartContainers, a pod IP)
	terminated bool   // killed (evicted or deleted): final statuses written
	evicted    string // eviction message
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

func newPodState(pod *v1.Pod, s *simulator) *podState {
	st := &podState{uid: pod.UID, node: pod.Spec.NodeName, startTime: time.Now(),
		condTimes: map[v1.PodConditionType]time.Time{}, condStatus: map[v1.PodConditionType]v1.ConditionStatus{}}
	s.mu.Lock()
	s.nextPod++
	n := s.nextPod
	s.mu.Unlock()
	st.podIP = net.IPv4(100, byte(96+(n>>16)&0x1f), byte(n>>8), byte(n)).String()
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

// startFailure reports why a container cannot start on an image without a shell ("" if it can):
// its command is not on one of its volume mounts.
func startFailure(noShell bool, c v1.Container) string {
	if !noShell || len(c.Command) == 0 {
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

// podSecret is one of a pod's pull secrets as the kubelet keys it: coordinates and a hash of its
// contents, and the credentials it holds per registry host.
type podSecret struct {
	namespace, name, uid, hash string
	creds                      map[string]string // host -> user:password
}

// pullCredentials reads the pod's pull secrets as the kubelet does. Secrets that do not exist are
// returned by name (the kubelet warns and pulls anyway, with the credentials it has).
func (s *simulator) pullCredentials(ctx context.Context, pod *v1.Pod) ([]podSecret, []string, error) {
	var secrets []podSecret
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		secret, err := s.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, ref.Name)
			continue
		} else if err != nil {
			return nil, nil, err
		}
		raw := secret.Data[v1.DockerConfigJsonKey]
		sum := sha256.Sum256(raw)
		ps := podSecret{namespace: pod.Namespace, name: ref.Name, uid: string(secret.UID), hash: hex.EncodeToString(sum[:]), creds: map[string]string{}}
		var config struct {
			Auths map[string]struct {
				Username string `json:"username"`
				Password string `json:"password"`
				Auth     string `json:"auth"`
			} `json:"auths"`
		}
		if raw != nil && json.Unmarshal(raw, &config) == nil {
			for host, a := range config.Auths {
				pair := a.Username + ":" + a.Password
				if a.Auth != "" {
					if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
						pair = string(b)
					}
				}
				host = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(host, "/"), "https://"), "http://")
				ps.creds[host] = pair
			}
		}
		secrets = append(secrets, ps)
	}
	return secrets, missing, nil
}

// forHost is the pod's secrets that hold credentials for a registry host.
func forHost(secrets []podSecret, host string) []podSecret {
	var out []podSecret
	for _, sec := range secrets {
		if _, ok := sec.creds[host]; ok {
			out = append(out, sec)
		}
	}
	return out
}

// authorized reports whether one of the secrets' credentials lets a pull of c through.
func (s *simulator) authorized(c imageContent, host string, secrets []podSecret) bool {
	if !c.private {
		return true
	}
	for _, sec := range forHost(secrets, host) {
		pair := sec.creds[host]
		if s.content.registry == nil || host != s.content.registry.addr || pair == registryUser+":"+s.content.registry.password {
			return true
		}
	}
	return false
}

// mustVerify is the kubelet's pull manager (KubeletEnsureSecretPulledImages, on by default since
// 1.35, policy NeverVerifyPreloadedImages): an image the kubelet pulled with credentials is used
// without a pull only by pods that present one of those credentials (same secret, or same
// contents); one pulled anonymously, or preloaded, by anyone.
func mustVerify(held *heldImage, repo string, secrets []podSecret) bool {
	if held.preloaded {
		return false
	}
	record, ok := held.pulledWith[repo]
	if !ok {
		return true
	}
	if record.anyone {
		return false
	}
	for _, sec := range secrets {
		for _, known := range record.secrets {
			if sec.hash == known.hash || (sec.uid == known.uid && sec.namespace == known.namespace && sec.name == known.name) {
				return false
			}
		}
	}
	return true
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
		// The informer may lag behind a node that was just created: ask the API. A pod bound to
		// a node that does not exist is left to the pod garbage collector, as in a real cluster.
		n, err := s.cs.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
		nobj = n
	}
	node := nobj.(*v1.Node)
	if isRealNode(node) {
		return 0, nil
	}
	if strings.TrimSpace(node.Annotations[annHeartbeat]) == "stopped" {
		return 0, nil // a dead kubelet does nothing; the node's sync re-queues its pods when it returns
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

	if st.terminated {
		if pod.DeletionTimestamp != nil {
			return 0, s.finishDeletion(ctx, pod)
		}
		return 0, nil
	}
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		if pod.DeletionTimestamp != nil {
			return 0, s.finishDeletion(ctx, pod)
		}
		return 0, nil
	}
	var next time.Duration
	switch {
	case pod.DeletionTimestamp != nil:
		s.terminate(pod, node, st, "")
	case pod.Annotations[annEvict] != "":
		s.terminate(pod, node, st, pod.Annotations[annEvict])
	default:
		next, err = s.advance(ctx, pod, node, st)
		if err != nil {
			return 0, err
		}
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
	if st.terminated && pod.DeletionTimestamp != nil {
		return 0, s.finishDeletion(ctx, pod)
	}
	return next, nil
}

// finishDeletion is the kubelet confirming a graceful deletion once the final status is written.
func (s *simulator) finishDeletion(ctx context.Context, pod *v1.Pod) error {
	zero := int64(0)
	uid := pod.UID
	err := s.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}

// terminate kills the pod's containers as the kubelet does when a pod is deleted or evicted,
// then marks statuses the way its status manager's TerminatePod does: running containers end
// (the pause binary exits 0 on SIGTERM), and every init container up to the last one with
// evidence of a start (at least the first) that is not terminated gets ContainerStatusUnknown.
func (s *simulator) terminate(pod *v1.Pod, node *v1.Node, st *podState, evictMessage string) {
	now := time.Now()
	rec := s.nodeStateFor(node.Name).recorder
	if evictMessage != "" {
		st.evicted = evictMessage
		rec.Eventf(pod, v1.EventTypeWarning, "Evicted", "%s", evictMessage)
	}
	for _, c := range st.ctrs {
		if c.step == stepRunning {
			rec.Eventf(pod, v1.EventTypeNormal, "Killing", "Stopping container %s", c.name)
			c.term = &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: mt(c.startedAt), FinishedAt: mt(now), ContainerID: containerID(pod, c)}
		}
	}
	last := 0
	for i, c := range st.ctrs {
		if !c.init {
			break
		}
		if c.step != stepNew && c.step != stepPulling && c.step != stepPullError && c.step != stepPullBackOff && c.step != stepInvalid || c.lastTerm != nil {
			last = i
		}
	}
	for i, c := range st.ctrs {
		if !c.init || i > last {
			break
		}
		if c.step == stepDone || c.term != nil || c.step == stepStartError || c.step == stepFailed {
			continue
		}
		c.term = &v1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown",
			Message: "The container could not be located when the pod was terminated"}
		if c.step == stepCrashBackOff || c.step == stepRunning {
			c.restarts++
		}
	}
	st.terminated = true
	s.m.podsEvicted.Add(1)
}

// advance moves the pod's containers forward as far as the clock allows and
// returns when it should be looked at again.
func (s *simulator) advance(ctx context.Context, pod *v1.Pod, node *v1.Node, st *podState) (time.Duration, error) {
	now := time.Now()
	ns := s.nodeStateFor(node.Name)
	rec := ns.recorder
	if msg := strings.TrimSpace(node.Annotations[annSandboxError]); msg != "" && st.cur == 0 && st.ctrs[0].step == stepNew {
		// The runtime cannot create the pod's sandbox: the kubelet records a Warning and retries;
		// no container ever gets a status beyond waiting (as the real node showed for a failing runc).
		rec.Eventf(pod, v1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = Unknown desc = %s", msg)
		return 10 * time.Second, nil
	}
	st.sandbox = true
	for st.cur < len(st.ctrs) && !st.failed {
		c := st.ctrs[st.cur]
		if c.step == stepPulling && c.job != nil {
			s.mu.Lock()
			done, eta, changed := s.lookAtPull(ns, node, c, now)
			s.mu.Unlock()
			if changed {
				s.enqueueNodePods(node.Name)
			}
			if !done {
				return maxDuration(eta.Sub(now), time.Millisecond), nil
			}
			c.pullStartedAt, c.until, c.job = c.job.startedAt, c.job.doneAt, nil
		}
		if c.until.After(now) {
			return c.until.Sub(now), nil
		}
		switch c.step {
		case stepNew, stepPullBackOff:
			content, err := s.content.resolve(c.image)
			if err != nil {
				// The kubelet gives up on such a reference: no pull, no back-off.
				c.step, c.waitReason = stepInvalid, "InvalidImageName"
				c.waitMessage = fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %v", c.image, c.image, err)
				s.m.pullsFailed.Add(1)
				rec.Eventf(pod, v1.EventTypeWarning, "InspectFailed", "%s", c.waitMessage)
				rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: InvalidImageName")
				return 0, nil
			}
			content.private = content.private || listContains(node.Annotations[annPrivate], c.image)
			content.noShell = content.noShell || listContains(node.Annotations[annNoShell], c.image)
			c.pulledContent = content
			secrets, missing, err := s.pullCredentials(ctx, pod)
			if err != nil {
				return 0, err
			}
			host := registryHost(c.image)
			c.pullSecrets = forHost(secrets, host)
			s.mu.Lock()
			held := ns.holds(content)
			verify := held != nil && mustVerify(held, content.repo, secrets)
			s.mu.Unlock()
			if held != nil && c.spec.ImagePullPolicy != v1.PullAlways && !verify {
				s.m.pullsSkipped.Add(1)
				rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.image)
				s.setImage(c, held)
				if err := s.start(pod, node, st, c, now); err != nil {
					return 0, err
				}
				continue
			}
			if len(missing) > 0 {
				rec.Eventf(pod, v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
					"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
			}
			norm := normalizeRef(c.image)
			if listContains(node.Annotations[annUnpullable], c.image) {
				s.pullFailed(pod, c, rec, now, "NotFound",
					fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", norm, norm, norm))
				return errShowDuration, nil
			}
			if listContains(node.Annotations[annRateLimited], c.image) {
				// Docker Hub's answer once a client's anonymous pull limit is used up, as containerd
				// reports it (HTTP 429 with a toomanyrequests body on the manifest request).
				s.pullFailed(pod, c, rec, now, "Unknown",
					fmt.Sprintf("failed to pull and unpack image %q: failed to copy: httpReadSeeker: failed open: unexpected status code https://%s/v2/%s/manifests/%s: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
						norm, host, content.repo[strings.Index(content.repo, "/")+1:], content.manifestDigest))
				return errShowDuration, nil
			}
			if !s.authorized(content, host, secrets) {
				tagOrDigest := content.tag
				if tagOrDigest == "" {
					tagOrDigest = content.manifestDigest
				}
				// containerd 1.6's wording (checked against the real node by test/integration/real-node.test.ts).
				s.pullFailed(pod, c, rec, now, "Unknown",
					fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: pulling from host %s failed with status code [manifests %s]: 401 Unauthorized",
						norm, norm, host, tagOrDigest))
				return errShowDuration, nil
			}
			if !s.serializesPulls(node) && held == nil {
				s.mu.Lock()
				s.startParallelPull(ns, node, c, content.configDigest, s.pullDuration(node), now)
				s.mu.Unlock()
				s.m.pullsStarted.Add(1)
				rec.Eventf(pod, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.image)
				c.step, c.until, c.queuedAt = stepPulling, time.Time{}, now
				c.waitReason, c.waitMessage = "PodInitializing", ""
				if !c.init {
					c.waitReason = "ContainerCreating"
				}
				s.enqueueNodePods(node.Name) // a new pull slows the others down
				continue
			}
			// One pull at a time per node (the kubelet's serializeImagePulls); a pull of the same
			// image already under way ends when that one does.
			s.mu.Lock()
			start := now
			if ns.pullFreeAt.After(start) {
				start = ns.pullFreeAt
			}
			end, sharing := ns.inflight[content.configDigest]
			if !sharing || end.Before(now) {
				end = start.Add(s.pullDuration(node))
				if held != nil {
					end = start // PullAlways on a held image: only a manifest check
				}
				ns.inflight[content.configDigest] = end
				ns.pullFreeAt = end
			}
			s.mu.Unlock()
			c.pullStartedAt = start
			s.m.pullsStarted.Add(1)
			rec.Eventf(pod, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.image)
			c.step, c.until, c.queuedAt = stepPulling, end, now
			if c.init {
				c.waitReason = "PodInitializing"
			} else {
				c.waitReason = "ContainerCreating"
			}
			c.waitMessage = ""
			if end.After(now) {
				return end.Sub(now), nil
			}
		case stepPulling:
			s.m.pullsCompleted.Add(1)
			s.m.lastPullCompletedUnixNano.Store(time.Now().UnixNano())
			s.mu.Lock()
			held := ns.addToStore(c.pulledContent)
			held.recordPull(c.pulledContent.repo, c.pullSecrets)
			if end, ok := ns.inflight[c.pulledContent.configDigest]; ok && !end.After(now) {
				delete(ns.inflight, c.pulledContent.configDigest)
			}
			s.mu.Unlock()
			s.setImage(c, held)
			took := c.until.Sub(c.pullStartedAt).Round(time.Millisecond)
			rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.",
				c.image, took, now.Sub(c.queuedAt).Round(time.Millisecond), c.pulledContent.size)
			if err := s.start(pod, node, st, c, now); err != nil {
				return 0, err
			}
		case stepPullError:
			c.step, c.waitReason = stepPullBackOff, "ImagePullBackOff"
			c.waitMessage = fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.image, c.waitMessage)
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

func (s *simulator) pullFailed(pod *v1.Pod, c *ctrState, rec record.EventRecorder, now time.Time, code, detail string) {
	c.attempts++
	c.step, c.waitReason, c.until = stepPullError, "ErrImagePull", now.Add(errShowDuration)
	// The kubelet shows the runtime's message without the gRPC status around it (as the real node does).
	c.waitMessage = detail
	s.m.pullsFailed.Add(1)
	rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Failed to pull image %q: rpc error: code = %s desc = %s", c.image, code, detail)
	rec.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: ErrImagePull")
}

// setImage records the names the runtime reports for the image a container was created from.
func (s *simulator) setImage(c *ctrState, held *heldImage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(held.repoDigests) > 0 {
		c.imageID = held.repoDigests[0]
	} else {
		c.imageID = held.id
	}
	if len(held.repoTags) > 0 {
		c.runtimeImage = held.repoTags[0]
	} else {
		c.runtimeImage = held.id
	}
}

// start "starts" a container whose image is present.
func (s *simulator) start(pod *v1.Pod, node *v1.Node, st *podState, c *ctrState, now time.Time) error {
	rec := s.nodeStateFor(node.Name).recorder
	if msg := startFailure(c.pulledContent.noShell, c.spec); msg != "" {
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
	sum := syntheticContent("localcluster/container", fmt.Sprintf("%s/%s/%d", pod.UID, c.name, c.restarts), "").configDigest
	return "containerd://" + strings.TrimPrefix(sum, "sha256:")
}

func (s *simulator) ctrStatus(pod *v1.Pod, c *ctrState) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.name, Image: c.image, ImageID: c.imageID, RestartCount: c.restarts}
	if c.runtimeImage != "" {
		cs.Image = c.runtimeImage
	}
	f := false
	cs.Started = &f
	switch {
	case c.term != nil:
		cs.State.Terminated = c.term.DeepCopy()
		cs.ContainerID = c.term.ContainerID
	case c.step == stepDone:
		cs.Ready = true
		cs.ContainerID = containerID(pod, c)
		cs.State.Terminated = &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
			StartedAt: mt(c.startedAt), FinishedAt: mt(c.finishedAt), ContainerID: cs.ContainerID}
	case c.step == stepRunning:
		t := true
		cs.Ready, cs.Started = true, &t
		cs.ContainerID = containerID(pod, c)
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: mt(c.startedAt)}
	case c.step == stepStartError || c.step == stepFailed:
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
	// As the kubelet: no pod IP before the runtime created the sandbox (a host-network pod has the node's).
	out.PodIP, out.PodIPs = "", nil
	if pod.Spec.HostNetwork {
		out.PodIP = nodeState.hostIP
	} else if st.sandbox {
		out.PodIP = st.podIP
	}
	if out.PodIP != "" {
		out.PodIPs = []v1.PodIP{{IP: out.PodIP}}
	}
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
			if !(c.step == stepDone || (c.sidecar && c.step == stepRunning)) || c.term != nil && c.sidecar {
				allInitDone = false
				pendingInit = append(pendingInit, c.name)
			}
		} else {
			out.ContainerStatuses = append(out.ContainerStatuses, cs)
			if c.step != stepRunning || c.term != nil {
				allRunning = false
				unready = append(unready, c.name)
			}
		}
	}
	ready := v1.ConditionFalse
	if allInitDone && allRunning {
		ready = v1.ConditionTrue
	}
	// The kubelet's PodReadyToStartContainers: True once the sandbox exists, False before (while
	// the runtime fails to create it) and after the pod was killed.
	readyToStart := v1.ConditionTrue
	if st.terminated || !st.sandbox {
		readyToStart = v1.ConditionFalse
	}
	s.setCond(st, v1.PodReadyToStartContainers, readyToStart, now)
	if allInitDone {
		s.setCond(st, v1.PodInitialized, v1.ConditionTrue, now)
	} else {
		s.setCond(st, v1.PodInitialized, v1.ConditionFalse, now)
	}
	s.setCond(st, v1.ContainersReady, ready, now)
	s.setCond(st, v1.PodReady, ready, now)
	notReadyReason := "ContainersNotReady"
	if st.terminated {
		notReadyReason = "PodFailed"
	}
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
		cond(v1.PodReady, notReadyReason, fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))),
		cond(v1.ContainersReady, notReadyReason, fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))),
	}
	if st.terminated {
		ours[2].Message, ours[3].Message = "", ""
	}
	if st.evicted != "" {
		ours = append(ours, v1.PodCondition{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonTerminationByKubelet,
			Message: st.evicted, LastTransitionTime: mt(now)})
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
	case st.terminated:
		out.Phase = v1.PodFailed
		if st.evicted != "" {
			out.Reason, out.Message = "Evicted", st.evicted
		}
	case st.failed:
		out.Phase = v1.PodFailed
	case allInitDone && allRunning:
		out.Phase = v1.PodRunning
	default:
		out.Phase = v1.PodPending
	}
	return out
}
