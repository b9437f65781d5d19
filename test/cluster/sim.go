package main

// The kubelet simulator: adopts every Node object, keeps its status Ready (or
// not, per annotation), "runs" the pods bound to it and records pulled images in
// node.status.images. Everything is event driven (shared informers feeding
// rate-limited delaying workqueues); timers are AddAfter on the queues, so the
// cost does not grow with idle nodes.

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	annPrefix       = "simulator.prepuller.test/"
	annReady        = annPrefix + "ready"
	annPullSeconds  = annPrefix + "pull-seconds"
	annStatusDelay  = annPrefix + "status-delay-seconds"
	annUnpullable   = annPrefix + "unpullable"
	annNoShell      = annPrefix + "no-shell"
	nodeIndex       = "byNode"
	errShowDuration = 2 * time.Second // how long ErrImagePull / StartError is shown before the back-off state
	kubeletVersion  = "v1.37.2"
	runtimeVersion  = "containerd://2.1.4"
)

type simConfig struct {
	pullSeconds    float64
	pullJitter     float64
	statusDelay    float64
	maxImages      int
	backoffInitial time.Duration
	backoffMax     time.Duration
	podWorkers     int
	nodeWorkers    int
}

type simMetrics struct {
	pullsStarted, pullsCompleted, pullsFailed, pullsSkipped atomic.Int64
	startErrors                                             atomic.Int64
	imagesRecorded, nodeStatusWrites, podStatusWrites       atomic.Int64
	podsForceDeleted, nodesAdopted                          atomic.Int64
	lastImageRecordedUnixNano                               atomic.Int64
}

type pendingImage struct {
	ref string
	due time.Time
}

type nodeState struct {
	index    int
	hostIP   string
	pending  []pendingImage               // pulled, not yet in node.status.images
	hidden   map[string]v1.ContainerImage // held but cut from the reported list by the cap (key: digest name)
	recorder record.EventRecorder
}

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
	imageID       string
	startedAt     time.Time
	pullStart     time.Time
	finishedAt    time.Time
	waitReason    string
	waitMessage   string
	lastTerm      *v1.ContainerStateTerminated
}

type podState struct {
	uid         types.UID
	node        string
	podIP       string
	startTime   time.Time
	ctrs        []*ctrState
	cur         int
	condTimes   map[v1.PodConditionType]time.Time
	condStatus  map[v1.PodConditionType]v1.ConditionStatus
	secretEvent bool
	secretMsg   string
	failed      bool
}

type simulator struct {
	cs       kubernetes.Interface
	cfg      simConfig
	factory  informers.SharedInformerFactory
	podInf   cache.SharedIndexInformer
	nodeInf  cache.SharedIndexInformer
	podQ     workqueue.TypedRateLimitingInterface[string]
	nodeQ    workqueue.TypedRateLimitingInterface[string]
	bcast    record.EventBroadcaster
	mu       sync.Mutex
	nodes    map[string]*nodeState
	pods     map[string]*podState
	nextNode int
	nextPod  uint32
	m        simMetrics
	rnd      *rand.Rand
	rndMu    sync.Mutex
}

func stripManagedFields(obj interface{}) (interface{}, error) {
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		a.GetObjectMeta().SetManagedFields(nil)
	}
	return obj, nil
}

func newSimulator(cs kubernetes.Interface, cfg simConfig) *simulator {
	s := &simulator{
		cs: cs, cfg: cfg,
		nodes: map[string]*nodeState{}, pods: map[string]*podState{},
		rnd: rand.New(rand.NewSource(time.Now().UnixNano())),
	}
	rl := func() workqueue.TypedRateLimiter[string] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 10*time.Second)
	}
	s.podQ = workqueue.NewTypedRateLimitingQueueWithConfig(rl(), workqueue.TypedRateLimitingQueueConfig[string]{Name: "sim-pods"})
	s.nodeQ = workqueue.NewTypedRateLimitingQueueWithConfig(rl(), workqueue.TypedRateLimitingQueueConfig[string]{Name: "sim-nodes"})

	s.factory = informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTransform(stripManagedFields))
	s.nodeInf = s.factory.Core().V1().Nodes().Informer()
	// Pods: only bound ones, from a dedicated informer with a field selector.
	s.podInf = informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTransform(stripManagedFields),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
		})).Core().V1().Pods().Informer()
	_ = s.podInf.AddIndexers(cache.Indexers{nodeIndex: func(obj interface{}) ([]string, error) {
		if p, ok := obj.(*v1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})

	enqueuePod := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.podQ.Add(key)
		}
	}
	s.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueuePod, UpdateFunc: func(_, n interface{}) { enqueuePod(n) }, DeleteFunc: enqueuePod,
	})
	enqueueNode := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.nodeQ.Add(key)
		}
	}
	s.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueNode,
		UpdateFunc: func(o, n interface{}) {
			on, nn := o.(*v1.Node), n.(*v1.Node)
			if on.ResourceVersion != nn.ResourceVersion {
				enqueueNode(n)
			}
		},
		DeleteFunc: enqueueNode,
	})

	s.bcast = record.NewBroadcaster()
	s.bcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return s
}

func (s *simulator) run(ctx context.Context) error {
	go s.factory.Start(ctx.Done())
	go s.podInf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.nodeInf.HasSynced, s.podInf.HasSynced) {
		return fmt.Errorf("simulator informers did not sync")
	}
	for i := 0; i < s.cfg.nodeWorkers; i++ {
		go s.worker(ctx, s.nodeQ, s.syncNode)
	}
	for i := 0; i < s.cfg.podWorkers; i++ {
		go s.worker(ctx, s.podQ, s.syncPod)
	}
	go func() {
		<-ctx.Done()
		s.podQ.ShutDown()
		s.nodeQ.ShutDown()
	}()
	return nil
}

func (s *simulator) worker(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) (time.Duration, error)) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		after, err := sync(ctx, key)
		if err != nil {
			if !apierrors.IsConflict(err) {
				klog.V(2).InfoS("simulator sync failed, retrying", "key", key, "err", err)
			}
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
			if after > 0 {
				q.AddAfter(key, after)
			}
		}
		q.Done(key)
	}
}

// createNodes registers node-1..node-n (existing ones are kept).
func (s *simulator) createNodes(ctx context.Context, n int) error {
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := "node-" + strconv.Itoa(i)
				node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
					"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				}}}
				if _, err := s.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					errs <- fmt.Errorf("create %s: %w", name, err)
				}
			}
		}()
	}
	for i := 1; i <= n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// ---------------------------------------------------------------- nodes

func (s *simulator) nodeStateFor(name string) *nodeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.nodes[name]
	if ns == nil {
		s.nextNode++
		idx := s.nextNode
		ns = &nodeState{
			index:    idx,
			hostIP:   net.IPv4(172, byte(16+(idx>>16)&0x0f), byte(idx>>8), byte(idx)).String(),
			hidden:   map[string]v1.ContainerImage{},
			recorder: s.bcast.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: name}),
		}
		s.nodes[name] = ns
		s.m.nodesAdopted.Add(1)
	}
	return ns
}

func annFloat(n *v1.Node, key string, def float64) float64 {
	if n == nil {
		return def
	}
	if v, ok := n.Annotations[key]; ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 {
			return f
		}
	}
	return def
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func mt(t time.Time) metav1.Time { return metav1.NewTime(t).Rfc3339Copy() }

func imageKey(img v1.ContainerImage) string {
	for _, n := range img.Names {
		if strings.Contains(n, "@sha256:") {
			return n
		}
	}
	if len(img.Names) > 0 {
		return digestRef(img.Names[0])
	}
	return ""
}

// nodeHolds reports whether the node holds ref: reported in status.images, cut by the
// cap, or pulled and waiting for the status delay. The second result is the
// digest name to report as imageID (the one listed on the node when there is one).
func (s *simulator) nodeHolds(node *v1.Node, ref string) (bool, string) {
	want := digestRef(ref)
	norm := normalizeRef(ref)
	for _, img := range node.Status.Images {
		for _, n := range img.Names {
			if n == ref || n == want || normalizeRef(n) == norm {
				id := want
				for _, o := range img.Names {
					if strings.Contains(o, "@sha256:") {
						id = normalizeDigestName(o)
						break
					}
				}
				return true, id
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns := s.nodes[node.Name]; ns != nil {
		if img, ok := ns.hidden[want]; ok {
			return true, imageKey(img)
		}
		for _, img := range ns.hidden {
			for _, n := range img.Names {
				if n == ref || normalizeRef(n) == norm {
					return true, imageKey(img)
				}
			}
		}
		for _, p := range ns.pending {
			if refMatches(p.ref, ref) {
				return true, want
			}
		}
	}
	return false, ""
}

// recordPulled schedules ref to appear in node.status.images after the status delay.
func (s *simulator) recordPulled(node *v1.Node, ref string) {
	delay := secs(annFloat(node, annStatusDelay, s.cfg.statusDelay))
	ns := s.nodeStateFor(node.Name)
	s.mu.Lock()
	ns.pending = append(ns.pending, pendingImage{ref: ref, due: time.Now().Add(delay)})
	s.mu.Unlock()
	s.nodeQ.AddAfter(node.Name, delay)
}

func (s *simulator) syncNode(ctx context.Context, name string) (time.Duration, error) {
	obj, exists, err := s.nodeInf.GetIndexer().GetByKey(name)
	if err != nil {
		return 0, err
	}
	if !exists {
		s.mu.Lock()
		delete(s.nodes, name)
		s.mu.Unlock()
		pods, _ := s.podInf.GetIndexer().ByIndex(nodeIndex, name)
		for _, p := range pods {
			if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
				s.podQ.Add(key)
			}
		}
		return 0, nil
	}
	node := obj.(*v1.Node)
	ns := s.nodeStateFor(name)

	// Default labels, like the kubelet keeps them.
	missing := map[string]string{}
	for k, v := range map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"} {
		if _, ok := node.Labels[k]; !ok {
			missing[k] = v
		}
	}
	if len(missing) > 0 {
		var b strings.Builder
		b.WriteString(`{"metadata":{"labels":{`)
		first := true
		for k, v := range missing {
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, "%q:%q", k, v)
		}
		b.WriteString(`}}}`)
		if _, err := s.cs.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(b.String()), metav1.PatchOptions{}); err != nil {
			return 0, err
		}
	}

	now := time.Now()
	status := node.Status.DeepCopy()
	cpu, mem, pods := resource.MustParse("8"), resource.MustParse("32Gi"), resource.MustParse("250")
	res := v1.ResourceList{v1.ResourceCPU: cpu, v1.ResourceMemory: mem, v1.ResourcePods: pods,
		v1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	status.Capacity = res
	status.Allocatable = res.DeepCopy()
	status.Phase = ""
	status.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: ns.hostIP}, {Type: v1.NodeHostName, Address: name}}
	status.DaemonEndpoints = v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 10250}}
	status.NodeInfo = v1.NodeSystemInfo{
		MachineID: fmt.Sprintf("%032x", ns.index), SystemUUID: fmt.Sprintf("00000000-0000-0000-0000-%012x", ns.index),
		BootID: fmt.Sprintf("%032x", ns.index), KernelVersion: "6.1.0-localcluster", OSImage: "Simulated Linux (localcluster)",
		ContainerRuntimeVersion: runtimeVersion, KubeletVersion: kubeletVersion,
		OperatingSystem: "linux", Architecture: "amd64",
	}
	ready := strings.TrimSpace(strings.ToLower(node.Annotations[annReady])) != "false"
	setNodeCondition(status, v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now)
	setNodeCondition(status, v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now)
	setNodeCondition(status, v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available", now)
	if ready {
		setNodeCondition(status, v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status", now)
	} else {
		setNodeCondition(status, v1.NodeReady, v1.ConditionFalse, "KubeletNotReady", "simulated: node annotated "+annReady+"=false", now)
	}

	// Images that became due.
	var next time.Duration
	var due []pendingImage
	s.mu.Lock()
	rest := ns.pending[:0]
	for _, p := range ns.pending {
		if !p.due.After(now) {
			due = append(due, p)
		} else {
			rest = append(rest, p)
			if d := p.due.Sub(now); next == 0 || d < next {
				next = d
			}
		}
	}
	ns.pending = rest
	hidden := make([]v1.ContainerImage, 0, len(ns.hidden))
	for _, h := range ns.hidden {
		hidden = append(hidden, h)
	}
	s.mu.Unlock()

	var newHidden map[string]v1.ContainerImage
	if len(due) > 0 {
		byKey := map[string]int{}
		list := make([]v1.ContainerImage, 0, len(status.Images)+len(due)+len(hidden))
		add := func(img v1.ContainerImage) int {
			k := imageKey(img)
			if i, ok := byKey[k]; ok && k != "" {
				return i
			}
			list = append(list, img)
			byKey[k] = len(list) - 1
			return len(list) - 1
		}
		for _, img := range status.Images {
			add(*img.DeepCopy())
		}
		for _, img := range hidden {
			add(img)
		}
		for _, p := range due {
			names := imageNamesFor(p.ref)
			k := digestRef(p.ref)
			if i, ok := byKey[k]; ok {
				// already held: make sure the reference as given is listed too
				have := false
				for _, n := range list[i].Names {
					if n == names[0] {
						have = true
					}
				}
				if !have {
					list[i].Names = append([]string{names[0]}, list[i].Names...)
				}
				continue
			}
			add(v1.ContainerImage{Names: names, SizeBytes: fakeSize(p.ref)})
		}
		sort.SliceStable(list, func(i, j int) bool { return list[i].SizeBytes > list[j].SizeBytes })
		newHidden = map[string]v1.ContainerImage{}
		if s.cfg.maxImages > 0 && len(list) > s.cfg.maxImages {
			for _, img := range list[s.cfg.maxImages:] {
				newHidden[imageKey(img)] = img
			}
			list = list[:s.cfg.maxImages]
		}
		status.Images = list
	}

	if apiequality.Semantic.DeepEqual(*status, node.Status) {
		return next, nil
	}
	updated := node.DeepCopy()
	updated.Status = *status
	if _, err := s.cs.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		// put the due images back so that they are written on retry
		s.mu.Lock()
		ns.pending = append(ns.pending, due...)
		s.mu.Unlock()
		return 0, err
	}
	s.m.nodeStatusWrites.Add(1)
	if len(due) > 0 {
		s.mu.Lock()
		ns.hidden = newHidden
		s.mu.Unlock()
		s.m.imagesRecorded.Add(int64(len(due)))
		s.m.lastImageRecordedUnixNano.Store(time.Now().UnixNano())
		// pods waiting on nothing else; nothing to enqueue
	}
	return next, nil
}

func setNodeCondition(st *v1.NodeStatus, t v1.NodeConditionType, status v1.ConditionStatus, reason, msg string, now time.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == t {
			if c.Status != status || c.Reason != reason || c.Message != msg {
				if c.Status != status {
					c.LastTransitionTime = mt(now)
				}
				c.Status, c.Reason, c.Message = status, reason, msg
				c.LastHeartbeatTime = mt(now)
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, v1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastHeartbeatTime: mt(now), LastTransitionTime: mt(now)})
}
