package observed

import "golang.org/x/sync/errgroup"

// ForEach calls f(i) for every i in [0, n) on at most limit goroutines at
// once and returns when all are done: the one bounded worker pool of
// reconcile (file batches, probes, nodes, ssh round trips).
func ForEach(limit, n int, f func(i int)) {
	if n == 0 {
		return
	}
	var g errgroup.Group
	g.SetLimit(max(1, min(limit, n)))
	for i := range n {
		g.Go(func() error {
			f(i)
			return nil
		})
	}
	_ = g.Wait() // f reports its own errors
}
