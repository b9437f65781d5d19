package main

// The kubelet simulator: adopts every Node object except real nodes (label
// prepuller.test/real-node), keeps its Lease and status the way a kubelet does,
// "runs" the pods bound to it, and keeps an image store per node the way a
// container runtime does. Everything is event driven (shared informers feeding
// rate-limited delaying workqueues); timers are AddAfter on the queues.
//
// Timing follows the kubelet's defaults (flags and node annotations change them
// for tests, which must say so):
//   - the runtime holds an image as soon as its pull ends;
//   - the kubelet's image list is a cache refreshed from the runtime every 30 s;
//   - node status is computed every 10 s and written when it changed (or every
//     5 min); status.images is that cache, largest first, cut to
//     nodeStatusMaxImages (50), each image named by RepoDigests then RepoTags,
//     at most 5 names;
//   - the node Lease is renewed every 10 s (duration 40 s); a node whose
//     heartbeats stop is marked Ready=Unknown by the node-lifecycle controller.

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

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
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
	annPrefix           = "simulator.prepuller.test/"
	annReady            = annPrefix + "ready"
	annPullSeconds      = annPrefix + "pull-seconds"
	annImageListRefresh = annPrefix + "image-list-refresh-seconds"
	annNodeStatus       = annPrefix + "node-status-seconds"
	annNodeStatusReport = annPrefix + "node-status-report-seconds"
	annUnpullable       = annPrefix + "unpullable"
	annRateLimited      = annPrefix + "rate-limited"
	annNoShell          = annPrefix + "no-shell"
	annPrivate          = annPrefix + "private-images"
	annPreloaded        = annPrefix + "preloaded-images"
	annHeartbeat        = annPrefix + "heartbeat"
	annEvict            = annPrefix + "evict"
	annMaxPods          = annPrefix + "max-pods"
	annSandboxError     = annPrefix + "sandbox-error"
	nodeIndex           = "byNode"
	leaseNamespace      = "kube-node-lease"
	errShowDuration     = 2 * time.Second // how long ErrImagePull / StartError is shown before the back-off state
	kubeletVersion      = "v1.37.2"
	runtimeVersion      = "containerd://1.6.20"
	maxNamesPerImage    = 5 // the kubelet's MaxNamesPerImageInNodeStatus
)

type simConfig struct {
	pullSeconds      float64
	pullJitter       float64
	imageListRefresh time.Duration
	nodeStatusUpdate time.Duration
	nodeStatusReport time.Duration
	leaseDuration    time.Duration
	maxImages        int // -1: unlimited, like the kubelet's nodeStatusMaxImages
	fillerImages     [2]int
	backoffInitial   time.Duration
	backoffMax       time.Duration
	podWorkers       int
	nodeWorkers      int
	// Every node's pull settings, unless its annotations say otherwise (simpull.go).
	parallelPulls    bool    // serializeImagePulls: false
	maxParallelPulls int     // maxParallelImagePulls; 0: unbounded
	pullBandwidth    float64 // lone pulls' worth of the node's link
}

type simMetrics struct {
	pullsStarted, pullsCompleted, pullsFailed, pullsSkipped atomic.Int64
	startErrors                                             atomic.Int64
	imagesRecorded, nodeStatusWrites, podStatusWrites       atomic.Int64
	nodeStatusUnchangedWrites                               atomic.Int64
	leaseWrites, podsEvicted, nodesAdopted                  atomic.Int64
	lastImageRecordedUnixNano, lastPullCompletedUnixNano    atomic.Int64
}

// heldImage is one image in a node's runtime store, named as containerd's CRI plugin names it,
// with the kubelet's records of the credentials it was pulled with, by repository.
type heldImage struct {
	id          string // config digest
	repoDigests []string
	repoTags    []string
	size        int64
	preloaded   bool // on the node before the kubelet pulled anything (never verified)
	pulledWith  map[string]pullRecord
}

type pullRecord struct {
	anyone  bool        // pulled without credentials: every pod on the node may use it
	secrets []podSecret // pulled with these secrets' credentials
}

// recordPull notes the credentials the kubelet pulled repo with (none: anyone may use it).
func (img *heldImage) recordPull(repo string, secrets []podSecret) {
	if img.pulledWith == nil {
		img.pulledWith = map[string]pullRecord{}
	}
	record := img.pulledWith[repo]
	if len(secrets) == 0 {
		record.anyone = true
	}
	record.secrets = append(record.secrets, secrets...)
	img.pulledWith[repo] = record
}

type nodeState struct {
	index         int
	hostIP        string
	store         map[string]*heldImage // by image ID
	preloaded     map[string]bool       // annotation entries already applied
	inflight      map[string]time.Time  // image ID -> when its pull ends
	pullFreeAt    time.Time             // serialized pulls: when the puller is free
	pool          *pullPool             // parallel pulls (serializeImagePulls: false)
	cache         []v1.ContainerImage   // the kubelet's image list, as it will be reported
	cacheAt       time.Time
	lastWrite     time.Time // the last status sync, written or not
	lastReport    time.Time // the last status actually written
	lease         *coordinationv1.Lease
	leaseAt       time.Time
	initialPosted bool
	stopped       bool // heartbeats stopped by annotation (a dead kubelet)
	// Each kubelet records its events through a broadcaster of its own (a queue of 1,000 events
	// and one writer), as the kubelet's makeEventRecorder does: one shared by every simulated
	// node drops events once thousands of pods start at once, which no real cluster does.
	bcast          record.EventBroadcaster
	recorder       record.EventRecorder
	fillersApplied bool
}

type simulator struct {
	cs       kubernetes.Interface
	cfg      simConfig
	content  *contentSource
	factory  informers.SharedInformerFactory
	podInf   cache.SharedIndexInformer
	nodeInf  cache.SharedIndexInformer
	podQ     workqueue.TypedRateLimitingInterface[string]
	nodeQ    workqueue.TypedRateLimitingInterface[string]
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

func isRealNode(n *v1.Node) bool { return n != nil && n.Labels[realNodeLabel] == "true" }

func newSimulator(cs kubernetes.Interface, cfg simConfig, content *contentSource) *simulator {
	s := &simulator{
		cs: cs, cfg: cfg, content: content,
		nodes: map[string]*nodeState{}, pods: map[string]*podState{},
		rnd: rand.New(rand.NewSource(time.Now().UnixNano())),
	}
	rl := func() workqueue.TypedRateLimiter[string] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 10*time.Second)
	}
	s.podQ = workqueue.NewTypedRateLimitingQueueWithConfig(rl(), workqueue.TypedRateLimitingQueueConfig[string]{Name: "sim-pods"})
	s.nodeQ = workqueue.NewTypedRateLimitingQueueWithConfig(rl(), workqueue.TypedRateLimitingQueueConfig[string]{Name: "sim-nodes"})

	s.factory = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(stripManagedFields))
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
			// Our own status writes come back as updates: only metadata changes need a look.
			if !apiequality.Semantic.DeepEqual(on.Annotations, nn.Annotations) || !apiequality.Semantic.DeepEqual(on.Labels, nn.Labels) {
				enqueueNode(n)
			}
		},
		DeleteFunc: enqueueNode,
	})

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

// createNodes registers node-1..node-n (existing ones are kept), like kubelets registering.
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
					continue
				}
				s.mu.Lock()
				ns := s.nodeStateLocked(name)
				s.mu.Unlock()
				s.addFillers(ns, name)
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

func (s *simulator) nodeStateLocked(name string) *nodeState {
	ns := s.nodes[name]
	if ns == nil {
		s.nextNode++
		idx := s.nextNode
		bcast := record.NewBroadcaster()
		bcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.cs.CoreV1().Events("")})
		ns = &nodeState{
			index:     idx,
			hostIP:    net.IPv4(100, byte(64+(idx>>16)&0x3f), byte(idx>>8), byte(idx)).String(),
			store:     map[string]*heldImage{},
			preloaded: map[string]bool{},
			inflight:  map[string]time.Time{},
			bcast:     bcast,
			recorder:  bcast.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: name}),
		}
		s.nodes[name] = ns
		s.m.nodesAdopted.Add(1)
	}
	return ns
}

func (s *simulator) nodeStateFor(name string) *nodeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodeStateLocked(name)
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

func annDuration(n *v1.Node, key string, def time.Duration) time.Duration {
	return secs(annFloat(n, key, def.Seconds()))
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func mt(t time.Time) metav1.Time { return metav1.NewTime(t).Rfc3339Copy() }

// addToStore records that the node's runtime holds the image behind ref (under that name).
// Callers hold s.mu.
func (ns *nodeState) addToStore(c imageContent) *heldImage {
	img := ns.store[c.configDigest]
	if img == nil {
		img = &heldImage{id: c.configDigest, size: c.size}
		ns.store[c.configDigest] = img
	}
	addName := func(list []string, name string) []string {
		for _, n := range list {
			if n == name {
				return list
			}
		}
		list = append(list, name)
		sort.Strings(list) // containerd keeps an image's references sorted
		return list
	}
	img.repoDigests = addName(img.repoDigests, c.repo+"@"+c.manifestDigest)
	if c.tag != "" {
		img.repoTags = addName(img.repoTags, c.repo+":"+c.tag)
	}
	return img
}

// holds reports the stored image that ref names, if the runtime has it: by tag, or by digest.
// Callers hold s.mu.
func (ns *nodeState) holds(c imageContent) *heldImage {
	for _, img := range ns.store {
		for _, d := range img.repoDigests {
			if d == c.repo+"@"+c.manifestDigest {
				if c.tag == "" {
					return img
				}
				for _, t := range img.repoTags {
					if t == c.repo+":"+c.tag {
						return img
					}
				}
			}
		}
	}
	return nil
}

// applyPreloaded puts the images a node annotation names into its store (once each). An entry is
// a reference, optionally `=sizeBytes` for a size of the test's choosing; `ref1|ref2|...` is one
// image known under several names (as after `ctr images tag`), with ref1's content.
func (s *simulator) applyPreloaded(ns *nodeState, node *v1.Node) {
	for _, entry := range splitList(node.Annotations[annPreloaded]) {
		s.mu.Lock()
		done := ns.preloaded[entry]
		ns.preloaded[entry] = true
		s.mu.Unlock()
		if done {
			continue
		}
		refs, size := entry, int64(0)
		if i := strings.LastIndex(entry, "="); i > 0 {
			if n, err := strconv.ParseFloat(entry[i+1:], 64); err == nil && n > 0 {
				refs, size = entry[:i], int64(n)
			}
		}
		var first imageContent
		for i, ref := range strings.Split(refs, "|") {
			c, err := s.content.resolve(ref)
			if err != nil {
				klog.InfoS("simulator: ignoring an invalid preloaded image", "node", node.Name, "ref", ref, "err", err)
				break
			}
			if i == 0 {
				if size > 0 {
					c.size = size
				}
				first = c
			} else {
				// Another name of the same image: same content, its own repository and tag.
				c.manifestDigest, c.configDigest, c.size = first.manifestDigest, first.configDigest, first.size
			}
			s.mu.Lock()
			ns.addToStore(c).preloaded = true
			s.mu.Unlock()
		}
	}
}

// refreshImageCache is the kubelet's periodic image list: the store, largest first (ties by
// ID, descending), as node status will report it.
func (s *simulator) refreshImageCache(ns *nodeState, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*heldImage, 0, len(ns.store))
	for _, img := range ns.store {
		list = append(list, img)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].size == list[j].size {
			return list[i].id > list[j].id
		}
		return list[i].size > list[j].size
	})
	out := make([]v1.ContainerImage, 0, len(list))
	for _, img := range list {
		names := append(append([]string{}, img.repoDigests...), img.repoTags...)
		if len(names) > maxNamesPerImage {
			names = names[:maxNamesPerImage]
		}
		out = append(out, v1.ContainerImage{Names: names, SizeBytes: img.size})
	}
	ns.cache, ns.cacheAt = out, now
}

func (s *simulator) syncNode(ctx context.Context, name string) (time.Duration, error) {
	obj, exists, err := s.nodeInf.GetIndexer().GetByKey(name)
	if err != nil {
		return 0, err
	}
	if !exists {
		// The node object is gone; its pods are the pod garbage collector's business.
		s.mu.Lock()
		if ns := s.nodes[name]; ns != nil {
			ns.bcast.Shutdown()
		}
		delete(s.nodes, name)
		s.mu.Unlock()
		return 0, nil
	}
	node := obj.(*v1.Node)
	if isRealNode(node) {
		return 0, nil
	}
	ns := s.nodeStateFor(name)
	s.applyPreloaded(ns, node)
	if strings.TrimSpace(node.Annotations[annHeartbeat]) == "stopped" {
		// A dead kubelet: no lease renewals, no status, no pod work; checked again now and then.
		ns.stopped = true
		return 5 * time.Second, nil
	}
	if ns.stopped {
		ns.stopped = false
		ns.initialPosted = false // a restarted kubelet posts its status at once
		s.enqueueNodePods(name)
	}

	now := time.Now()
	statusEvery := annDuration(node, annNodeStatus, s.cfg.nodeStatusUpdate)
	refreshEvery := annDuration(node, annImageListRefresh, s.cfg.imageListRefresh)
	renewEvery := s.cfg.leaseDuration / 4
	if ns.cacheAt.IsZero() || now.Sub(ns.cacheAt) >= refreshEvery {
		s.refreshImageCache(ns, now)
	}
	if ns.leaseAt.IsZero() || now.Sub(ns.leaseAt) >= renewEvery {
		if err := s.renewLease(ctx, node, ns, now); err != nil {
			return 0, err
		}
	}
	if !ns.initialPosted || now.Sub(ns.lastWrite) >= statusEvery {
		reportEvery := annDuration(node, annNodeStatusReport, s.cfg.nodeStatusReport)
		if err := s.postNodeStatus(ctx, node, ns, now, reportEvery); err != nil {
			return 0, err
		}
	}
	// Next due: the earliest of the three timers.
	next := statusEvery - now.Sub(ns.lastWrite)
	if d := refreshEvery - now.Sub(ns.cacheAt); d < next {
		next = d
	}
	if d := renewEvery - now.Sub(ns.leaseAt); d < next {
		next = d
	}
	if next < 50*time.Millisecond {
		next = 50 * time.Millisecond
	}
	return next, nil
}

func (s *simulator) renewLease(ctx context.Context, node *v1.Node, ns *nodeState, now time.Time) error {
	leases := s.cs.CoordinationV1().Leases(leaseNamespace)
	renew := metav1.NewMicroTime(now)
	duration := int32(s.cfg.leaseDuration.Seconds())
	if ns.lease == nil {
		existing, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			holder := node.Name
			lease := &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: node.Name, Namespace: leaseNamespace, OwnerReferences: []metav1.OwnerReference{
					{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, RenewTime: &renew},
			}
			created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			ns.lease, ns.leaseAt = created, now
			s.m.leaseWrites.Add(1)
			return nil
		} else if err != nil {
			return err
		}
		ns.lease = existing
	}
	lease := ns.lease.DeepCopy()
	lease.Spec.RenewTime = &renew
	lease.Spec.LeaseDurationSeconds = &duration
	updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		ns.lease = nil // read it again next time (conflict, or deleted)
		return err
	}
	ns.lease, ns.leaseAt = updated, now
	s.m.leaseWrites.Add(1)
	return nil
}

// postNodeStatus writes the node's status when it changed, and otherwise once reportEvery has
// passed since the last write (the kubelet's nodeStatusReportFrequency, default 5 min): then every
// Node watcher receives a whole Node whose only news is the conditions' heartbeat times.
func (s *simulator) postNodeStatus(ctx context.Context, node *v1.Node, ns *nodeState, now time.Time, reportEvery time.Duration) error {
	status := node.Status.DeepCopy()
	// The kubelet's default maxPods is 110; the annotation sets another (a full node: "0").
	maxPods := int64(annFloat(node, annMaxPods, 110))
	cpu, mem, pods := resource.MustParse("8"), resource.MustParse("32Gi"), *resource.NewQuantity(maxPods, resource.DecimalSI)
	res := v1.ResourceList{v1.ResourceCPU: cpu, v1.ResourceMemory: mem, v1.ResourcePods: pods,
		v1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	status.Capacity = res
	status.Allocatable = res.DeepCopy()
	status.Phase = ""
	status.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: ns.hostIP}, {Type: v1.NodeHostName, Address: node.Name}}
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
	s.mu.Lock()
	images := ns.cache
	s.mu.Unlock()
	if s.cfg.maxImages > -1 && len(images) > s.cfg.maxImages {
		images = images[:s.cfg.maxImages]
	}
	status.Images = images

	changed := !nodeStatusEqual(&node.Status, status)
	if !changed && ns.initialPosted && now.Sub(ns.lastReport) < reportEvery {
		ns.lastWrite = now // a sync that found nothing to write
		return nil
	}
	updated := node.DeepCopy()
	updated.Status = *status
	if _, err := s.cs.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if !apiequality.Semantic.DeepEqual(node.Status.Images, status.Images) {
		s.m.imagesRecorded.Add(1)
		s.m.lastImageRecordedUnixNano.Store(time.Now().UnixNano())
	}
	ns.lastWrite, ns.lastReport, ns.initialPosted = now, now, true
	s.m.nodeStatusWrites.Add(1)
	if !changed {
		s.m.nodeStatusUnchangedWrites.Add(1)
	}
	return nil
}

// nodeStatusEqual compares statuses as the kubelet does: heartbeat times do not count as a change.
func nodeStatusEqual(a, b *v1.NodeStatus) bool {
	strip := func(st *v1.NodeStatus) *v1.NodeStatus {
		c := st.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

func setNodeCondition(st *v1.NodeStatus, t v1.NodeConditionType, status v1.ConditionStatus, reason, msg string, now time.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == t {
			if c.Status != status {
				c.LastTransitionTime = mt(now)
			}
			c.Status, c.Reason, c.Message = status, reason, msg
			c.LastHeartbeatTime = mt(now)
			return
		}
	}
	st.Conditions = append(st.Conditions, v1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastHeartbeatTime: mt(now), LastTransitionTime: mt(now)})
}

// fillerNames are the kinds of images a long-running JupyterHub node holds besides ours.
var fillerNames = []string{
	"docker.io/library/python:3.%d-slim", "quay.io/jupyter/scipy-notebook:2024-%02d-01", "quay.io/jupyter/r-notebook:2024-%02d-15",
	"registry.k8s.io/kube-proxy:v1.3%d.0", "docker.io/calico/node:v3.2%d.1", "quay.io/jupyterhub/k8s-singleuser-sample:3.%d.0",
	"ghcr.io/example-org/team-%d/analysis:v1", "docker.io/rocker/rstudio:4.%d", "nvcr.io/nvidia/pytorch:24.%02d-py3",
	"quay.io/prometheus/node-exporter:v1.%d.0",
}

// addFillers gives a node the sim created between fillerImages[0] and [1] other images.
func (s *simulator) addFillers(ns *nodeState, node string) {
	lo, hi := s.cfg.fillerImages[0], s.cfg.fillerImages[1]
	if hi <= 0 {
		return
	}
	s.rndMu.Lock()
	count := lo + s.rnd.Intn(hi-lo+1)
	s.rndMu.Unlock()
	for i := 0; i < count; i++ {
		ref := fmt.Sprintf(fillerNames[i%len(fillerNames)], 1+(i/len(fillerNames)+len(node))%12)
		c, err := s.content.resolve(ref)
		if err != nil {
			continue
		}
		s.mu.Lock()
		ns.addToStore(c).preloaded = true
		s.mu.Unlock()
	}
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

// enqueueNodePods makes every pod of a node look again (its kubelet came back, say).
func (s *simulator) enqueueNodePods(node string) {
	objs, _ := s.podInf.GetIndexer().ByIndex(nodeIndex, node)
	for _, o := range objs {
		if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			s.podQ.Add(k)
		}
	}
}
