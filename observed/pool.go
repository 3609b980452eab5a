package observed

import (
	"fmt"
	"runtime/debug"
	"sync"

	"golang.org/x/sync/errgroup"
)

// ForEach calls f(i) for every i in [0, n) on at most limit goroutines at
// once and returns when all are done: the one bounded worker pool of
// reconcile (file batches, probes, nodes, ssh round trips).
//
// A panic in f does not kill the process from a worker goroutine, where
// nothing can recover it: the first is carried back and raised again on the
// caller's goroutine once all are done, so that the CLI's recover at the top
// turns it into exit 1 with a message.
func ForEach(limit, n int, f func(i int)) {
	if n == 0 {
		return
	}
	var (
		g     errgroup.Group
		once  sync.Once
		fault *WorkerPanic
	)
	g.SetLimit(max(1, min(limit, n)))
	for i := range n {
		g.Go(func() error {
			defer func() {
				if v := recover(); v != nil {
					once.Do(func() { fault = &WorkerPanic{Value: v, Stack: debug.Stack()} })
				}
			}()
			f(i)
			return nil
		})
	}
	_ = g.Wait() // f reports its own errors
	if fault != nil {
		panic(fault)
	}
}

// WorkerPanic is a panic of a ForEach worker, raised again on the caller's
// goroutine with the worker's stack.
type WorkerPanic struct {
	Value any
	Stack []byte
}

func (p *WorkerPanic) Error() string {
	return fmt.Sprintf("%v\n\nworker goroutine:\n%s", p.Value, p.Stack)
}
