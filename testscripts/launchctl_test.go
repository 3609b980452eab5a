package testscripts

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
	"howett.net/plist"
)

// cmdMockLaunchctl puts the launchctl double on PATH for the rest of the
// script, with its state and call log under $WORK.
//
//	mocklaunchctl
func cmdMockLaunchctl(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: mocklaunchctl")
	}
	work := ts.Getenv("WORK")
	bin := filepath.Join(work, "bin")
	ts.Check(os.MkdirAll(bin, 0o755))
	ts.Check(os.WriteFile(filepath.Join(bin, "launchctl"), []byte("#!/bin/sh\nexec launchctl-double \"$@\"\n"), 0o755))
	ts.Setenv("LAUNCHCTL_STATE", filepath.Join(work, "launchd-state.json"))
	ts.Setenv("LAUNCHCTL_LOG", filepath.Join(work, "launchctl.log"))
}

// cmdPlistCheck parses every *.plist in a directory with howett.net/plist
// and checks each has a Label.
//
//	plistcheck dir
func cmdPlistCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: plistcheck dir")
	}
	files, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "*.plist"))
	ts.Check(err)
	if len(files) == 0 {
		ts.Fatalf("no plists in %s", args[0])
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		ts.Check(err)
		var p struct{ Label string }
		if _, err := plist.Unmarshal(data, &p); err != nil {
			ts.Fatalf("%s: %v", f, err)
		}
		if p.Label == "" {
			ts.Fatalf("%s: no Label", f)
		}
	}
	fmt.Fprintf(ts.Stdout(), "%d plists parse\n", len(files))
}
