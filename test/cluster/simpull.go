package main

// Parallel image pulls of a simulated kubelet whose configuration says
// serializeImagePulls: false (per node, by annotation). The kubelet then pulls
// the images of different pods at once: each pull waits for one of
// maxParallelImagePulls slots (unbounded when unset), and its "in X" duration
// counts from when it got one, its "including waiting" from when the container
// asked. A pod still pulls its own containers one after another (the kubelet
// starts them in order, each after its pull).
//
// Concurrent pulls share the node's bandwidth: a pull alone takes the node's
// pull-seconds; the node moves pull-bandwidth pulls' worth of bytes at once
// (default 1, a pull alone fills the link: parallel pulls are then no faster in
// total than serialized ones, never free), so n active pulls each progress at
// min(1, bandwidth/n) of a lone pull's speed. The model is processor sharing,
// advanced lazily and exactly: every look replays the starts and ends since the
// last one in order, and every start or end makes the node's pods look again.

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	annSerializePulls  = annPrefix + "serialize-image-pulls"    // "false": the kubelet pulls in parallel
	annMaxParallelPull = annPrefix + "max-parallel-image-pulls" // maxParallelImagePulls; unset or 0: unbounded
	annPullBandwidth   = annPrefix + "pull-bandwidth"           // how many lone pulls' speed the node's link carries
)

// pullJob is one image pull of a node in parallel mode (shared by containers of the same image).
type pullJob struct {
	work      float64   // seconds a lone pull takes
	remaining float64   // seconds of lone-pull work left
	queuedAt  time.Time // asked for (the "including waiting" origin)
	startedAt time.Time // got a slot (zero while queued)
	doneAt    time.Time // finished (zero until then)
}

// pullPool is a node's parallel puller.
type pullPool struct {
	active    []*pullJob
	queue     []*pullJob
	byDigest  map[string]*pullJob
	updatedAt time.Time
}

// serializesPulls is the node's serializeImagePulls: its annotation, else the cluster's flag
// (the kubelet's default is true).
func (s *simulator) serializesPulls(node *v1.Node) bool {
	if node != nil {
		switch node.Annotations[annSerializePulls] {
		case "false":
			return false
		case "true":
			return true
		}
	}
	return !s.cfg.parallelPulls
}

// rate is each active pull's speed as a fraction of a lone pull's.
func (p *pullPool) rate(bandwidth float64) float64 {
	n := float64(len(p.active))
	if n == 0 || bandwidth >= n {
		return 1
	}
	return bandwidth / n
}

// progress replays the pool up to now: active pulls advance at the shared rate, each end frees a
// slot for the next queued pull at that instant. It reports whether any pull started or ended.
func (p *pullPool) progress(now time.Time, bandwidth float64, slots int) bool {
	changed := false
	for {
		p.fill(p.updatedAt, slots, &changed)
		if len(p.active) == 0 || !now.After(p.updatedAt) {
			p.updatedAt = maxTime(p.updatedAt, now)
			return changed
		}
		r := p.rate(bandwidth)
		// The first pull to end at this rate, and when.
		first := p.active[0]
		for _, j := range p.active[1:] {
			if j.remaining < first.remaining {
				first = j
			}
		}
		endsAt := p.updatedAt.Add(secs(first.remaining / r))
		step := now
		if endsAt.Before(now) {
			step = endsAt
		}
		elapsed := step.Sub(p.updatedAt).Seconds()
		kept := p.active[:0]
		for _, j := range p.active {
			j.remaining -= elapsed * r
			if j == first && !step.Before(endsAt) || j.remaining <= 1e-6 {
				j.remaining, j.doneAt, changed = 0, step, true
				continue
			}
			kept = append(kept, j)
		}
		p.active = kept
		p.updatedAt = step
		if !step.Before(now) {
			p.fill(now, slots, &changed)
			return changed
		}
	}
}

// fill starts queued pulls while slots are free.
func (p *pullPool) fill(at time.Time, slots int, changed *bool) {
	for len(p.queue) > 0 && (slots <= 0 || len(p.active) < slots) {
		j := p.queue[0]
		p.queue = p.queue[1:]
		j.startedAt = at
		p.active = append(p.active, j)
		*changed = true
	}
}

// eta is when j ends if nothing else starts or ends (for a queued pull: when the first slot frees,
// after which it looks again).
func (p *pullPool) eta(j *pullJob, bandwidth float64) time.Time {
	r := p.rate(bandwidth)
	if !j.startedAt.IsZero() {
		return p.updatedAt.Add(secs(j.remaining / r))
	}
	soonest := time.Time{}
	for _, a := range p.active {
		at := p.updatedAt.Add(secs(a.remaining / r))
		if soonest.IsZero() || at.Before(soonest) {
			soonest = at
		}
	}
	return soonest
}

// startParallelPull attaches c to a pull of its image on the node (a new one, or one under way),
// and says when to look again. Called with s.mu held.
func (s *simulator) startParallelPull(ns *nodeState, node *v1.Node, c *ctrState, digest string, work time.Duration, now time.Time) {
	p := ns.pool
	if p == nil {
		p = &pullPool{byDigest: map[string]*pullJob{}, updatedAt: now}
		ns.pool = p
	}
	bandwidth, slots := s.poolLimits(node)
	p.progress(now, bandwidth, slots)
	if j, ok := p.byDigest[digest]; ok && j.doneAt.IsZero() {
		c.job = j
		return
	}
	j := &pullJob{work: work.Seconds(), remaining: work.Seconds(), queuedAt: now}
	p.byDigest[digest] = j
	p.queue = append(p.queue, j)
	p.progress(now, bandwidth, slots)
	c.job = j
}

// lookAtPull advances the node's pool and returns whether c's pull has ended, and if not when to
// look again. Whether the pool changed (so the node's other pods should look again) is the third
// result. Called with s.mu held.
func (s *simulator) lookAtPull(ns *nodeState, node *v1.Node, c *ctrState, now time.Time) (bool, time.Time, bool) {
	bandwidth, slots := s.poolLimits(node)
	changed := ns.pool.progress(now, bandwidth, slots)
	j := c.job
	if !j.doneAt.IsZero() {
		for digest, other := range ns.pool.byDigest {
			if other == j {
				delete(ns.pool.byDigest, digest)
			}
		}
		return true, time.Time{}, changed
	}
	return false, ns.pool.eta(j, bandwidth), changed
}

func (s *simulator) poolLimits(node *v1.Node) (float64, int) {
	def := s.cfg.pullBandwidth
	if def <= 0 {
		def = 1
	}
	bandwidth := annFloat(node, annPullBandwidth, def)
	if bandwidth <= 0 {
		bandwidth = def
	}
	return bandwidth, int(annFloat(node, annMaxParallelPull, float64(s.cfg.maxParallelPulls)))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
