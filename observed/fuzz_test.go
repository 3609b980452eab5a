package observed

import "testing"

// FuzzParsePrint: whatever launchctl print says, parsing does not panic.
func FuzzParsePrint(f *testing.F) {
	f.Add("gui/501/com.sanctum.x = {\n\tactive count = 1\n\tpath = /Users/neo/Library/LaunchAgents/com.sanctum.x.plist\n\tstate = running\n\n\tprogram = /bin/x\n\targuments = {\n\t\t/bin/x\n\t\t--flag\n\t}\n\n\tpid = 42\n\tlast exit code = 0\n}\n")
	f.Add("x = {\n\targuments = {\n\t\ta = {\n\t\t}\n\t}\n}\n}\n}\n")
	f.Add("x = {\n\tsemaphores = {\n\t\tsuccessful exit => 0\n\t}\n\tevent triggers = {\n\t\tw => {\n\t\t\tstream = com.apple.fsevents.matching\n\t\t\tdescriptor = {\n\t\t\t\t\"WatchPaths\" => [\n\t\t\t\t\t0 = \"/a\"\n\t\t\t\t]\n\t\t\t\t\"PathState\" => {\n\t\t\t\t\t\"/p\" => true\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n\tresource limits = {\n\t\tmaxfiles (soft) => 4096\n\t}\n\tnice = -1\n}\n")
	f.Add("x = {\n\ta => [\n\t]\n\t]\n\tb = [\n}\n")
	f.Add("")
	f.Add("Could not find service \"x\" in domain for user gui: 501\n")
	f.Fuzz(func(t *testing.T, out string) {
		info, err := ParsePrint(out)
		if err == nil && info == nil {
			t.Fatal("nil info without an error")
		}
		_ = ParsePrintDisabled(out)
	})
}

// FuzzParseDigests: a node's answer, however mangled, is parsed or refused.
func FuzzParseDigests(f *testing.F) {
	f.Add([]byte("file\t0\nmissing\t1\nno-dir\t2\nHASHES\n" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "  a/b\nMODES\n644 a/b\nEND\n"))
	f.Add([]byte("file\t0\nHASHES\nEND\n"))
	f.Add([]byte("Q\t0\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		res, err := ParseDigests(out, []string{"a/b", "c", "d/e"})
		if err == nil && res == nil {
			t.Fatal("nil result without an error")
		}
	})
}

// FuzzParseObservation: a node's answer with its units' show after the
// digests, however mangled, is parsed or refused.
func FuzzParseObservation(f *testing.F) {
	f.Add([]byte("file\t0\nHASHES\n" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "  a/b\nMODES\n644 a/b\n" +
		"UNITS\nId=x.service\nLoadState=loaded\nMainPID=7\n\nUNITSEXIT\t0\t\nHOME\t/h\nEND\n"))
	f.Add([]byte("UNITS\n\nUNITSEXIT\tnone\t\nHOME\t/h\nEND\n"))
	f.Add([]byte("MODES\nUNITS\nUNITSEXIT\t1\tFailed\nHOME\t\nEND\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		o, err := ParseObservation(out, RemoteQuery{Paths: []string{"a/b", "c"}, Units: []string{"x.service"}})
		if err == nil && (o == nil || o.Files == nil) {
			t.Fatal("nil result without an error")
		}
		if err == nil && o.UnitsErr == nil && o.Units["x.service"] == nil {
			t.Fatal("no answer for the unit asked, and no error")
		}
	})
}

// FuzzParseContents: the contents section that opens a node's answer,
// however mangled, is parsed or refused, and never names a file not asked.
func FuzzParseContents(f *testing.F) {
	f.Add([]byte("CONTENTS\nC\t0\n 5b 55 6e 69 74 5d 0a\nE\t0\nC\t1\nE\t1\nCONTENTSEND\nfile\t0\nEND\n"))
	f.Add([]byte("CONTENTS\nC\t0\n 41"))
	f.Add([]byte("CONTENTSEND\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		asked := []RemoteContent{{Path: "a"}, {Path: "b"}}
		res, rest, err := parseContents(out, asked)
		if err != nil {
			return
		}
		if res == nil || len(rest) > len(out) {
			t.Fatal("a nil result or a longer rest without an error")
		}
		for p := range res {
			if p != "a" && p != "b" {
				t.Fatalf("content for %q, never asked", p)
			}
		}
	})
}
