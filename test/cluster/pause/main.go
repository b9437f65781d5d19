// Command pause is the harness's sandbox (and pauseImage) binary for the real
// node: as PID 1 of a pod it sleeps, reaps orphaned children and exits on
// SIGINT/SIGTERM. Built statically into the registry's prepuller/pause image,
// because the node has no internet to pull registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
