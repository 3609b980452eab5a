package testscripts

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdListen starts a listener on a free port of 127.0.0.1 for the rest of
// the script and sets $PORT_<NAME> to it:
//
//	http NAME [status]  an HTTP server answering every request with status
//	                    (default 200)
//	tcp NAME            accepts connections and closes them
//	hang NAME           accepts connections and never answers
//	free NAME           nothing listens: a service that is down
//
//	listen http|tcp|hang|free NAME [status]
func cmdListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: listen http|tcp|hang|free NAME [status]")
	}
	if args[0] == "free" {
		ts.Setenv("PORT_"+strings.ToUpper(args[1]), strconv.Itoa(freePort(ts)))
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv("PORT_"+strings.ToUpper(args[1]), strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	switch args[0] {
	case "http":
		status := http.StatusOK
		if len(args) == 3 {
			status, err = strconv.Atoi(args[2])
			ts.Check(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })}
		go func() { _ = srv.Serve(l) }()
		ts.Defer(func() { _ = srv.Close() })
	case "tcp", "hang":
		hang := args[0] == "hang"
		var mu sync.Mutex
		var held []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if !hang {
					c.Close()
					continue
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
		ts.Defer(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range held {
				c.Close()
			}
		})
	default:
		ts.Fatalf("unknown listener kind %q", args[0])
	}
}
