package observed

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParsePrint reads print output laid out as macOS 14/15 print it
// (tabs, nested blocks, lines of neither shape) into the loaded
// definition, key by key.
func TestParsePrint(t *testing.T) {
	tests := []struct {
		file string
		want ServiceInfo
	}{
		{"calendar.txt", ServiceInfo{
			Path:      "/Users/neo/Library/LaunchAgents/com.sanctum.tech-lookout.plist",
			State:     "not running",
			Runs:      4,
			Program:   "/Users/neo/.sanctum/bin/sanctum-tech-lookout",
			Arguments: []string{"/Users/neo/.sanctum/bin/sanctum-tech-lookout", "--digest"},
			Environment: map[string]string{"OSLogRateLimit": "64", "LOOKOUT_FEEDS": "hn,lobsters",
				"XPC_SERVICE_NAME": "com.sanctum.tech-lookout"},
			WorkingDirectory:  "/Users/neo/.sanctum",
			StdoutPath:        "/Users/neo/.sanctum/logs/tech-lookout.out.log",
			StderrPath:        "/Users/neo/.sanctum/logs/tech-lookout.err.log",
			LastExitCode:      "78: EX_CONFIG",
			Properties:        []string{"runatload", "inferred program", "managed LWCR", "has LWCR"},
			CalendarIntervals: []map[string]int{{"Hour": 7, "Minute": 30}, {"Hour": 19, "Minute": 30}},
			SpawnType:         "background",
			MinimumRuntime:    30,
			Definition:        true,
		}},
		{"keepalive.txt", ServiceInfo{
			Path:      "/Users/neo/Library/LaunchAgents/com.sanctum.watchdog-rust.plist",
			State:     "running",
			PID:       17594,
			Runs:      12,
			Program:   "/Users/neo/.sanctum/bin/sanctum-watchdog",
			Arguments: []string{"/Users/neo/.sanctum/bin/sanctum-watchdog", "", "--serve"},
			Environment: map[string]string{"OSLogRateLimit": "64",
				"XPC_SERVICE_NAME": "com.sanctum.watchdog"},
			StdoutPath:     "/Users/neo/.sanctum/logs/watchdog.log",
			StderrPath:     "/Users/neo/.sanctum/logs/watchdog.log",
			LastSignal:     "Terminated: 15",
			Properties:     []string{"keepalive", "runatload", "inferred program"},
			RunInterval:    600,
			SpawnType:      "interactive",
			MinimumRuntime: 10,
			Definition:     true,
		}},
		// The layout of real prints of a job with WatchPaths, a KeepAlive
		// dictionary and resource limits (macOS 15): semaphores, the
		// file-system event triggers with a list descriptor, a resource
		// limits block.
		{"watchpaths.txt", ServiceInfo{
			Path:           "/Users/neo/Library/LaunchAgents/com.sanctum.inbox-sync.plist",
			State:          "not running",
			Runs:           2,
			Program:        "/Users/neo/.sanctum/bin/sanctum-inbox-sync",
			Arguments:      []string{"/Users/neo/.sanctum/bin/sanctum-inbox-sync"},
			Environment:    map[string]string{"OSLogRateLimit": "64", "XPC_SERVICE_NAME": "com.sanctum.inbox-sync"},
			LastExitCode:   "1",
			Properties:     []string{"runatload", "inferred program"},
			SpawnType:      "daemon",
			MinimumRuntime: 60,
			Semaphores:     map[string]string{"successful exit": "0", "after crash": "1"},
			WatchPaths:     []string{"/Users/neo/.sanctum/inbox", "/Users/neo/.sanctum/config/inbox.yaml"},
			PathState:      map[string]bool{"/Users/neo/.sanctum/inbox/.ready": true},
			SoftLimits:     map[string]string{"maxfiles": "4096"},
			HardLimits:     map[string]string{"core": "(infinity)"},
			Definition:     true,
		}},
		// An older print (macOS 10.15): nice shown, properties as a block
		// of flags.
		{"nice.txt", ServiceInfo{
			Path:           "/Users/neo/Library/LaunchAgents/com.sanctum.tts-warm.plist",
			State:          "running",
			PID:            3087,
			Runs:           1,
			Program:        "/Users/neo/.sanctum/bin/sanctum-tts-warm",
			Arguments:      []string{"/Users/neo/.sanctum/bin/sanctum-tts-warm"},
			Environment:    map[string]string{"XPC_SERVICE_NAME": "com.sanctum.tts-warm"},
			LastExitCode:   "(never exited)",
			Properties:     []string{"runatload"},
			SpawnType:      "daemon",
			MinimumRuntime: 2,
			Nice:           -1,
			Semaphores:     map[string]string{"successful exit": "0"},
			Definition:     true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/launchctl/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePrint(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got, cmpopts.IgnoreFields(ServiceInfo{}, "Shown")); diff != "" {
				t.Errorf("ParsePrint mismatch (-want +got):\n%s", diff)
			}
			for _, k := range []string{"program", "arguments", "environment", "properties", "spawn type", "minimum runtime"} {
				if !got.Shown[k] {
					t.Errorf("Shown[%q] = false", k)
				}
			}
			if got.Shown["jetsam thread limit"] && tt.file == "keepalive.txt" {
				t.Errorf("Shown has a key the output does not show")
			}
		})
	}
}

// TestLastExit: the last run's code, a signal, or none yet.
func TestLastExit(t *testing.T) {
	tests := []struct {
		code, signal string
		want         int
		exited       bool
	}{
		{"0", "", 0, true},
		{"78: EX_CONFIG", "", 78, true},
		{"(never exited)", "", 0, false},
		{"", "", 0, false},
		{"", "Terminated: 15", -1, true},
	}
	for _, tt := range tests {
		i := &ServiceInfo{LastExitCode: tt.code, LastSignal: tt.signal}
		got, exited := i.LastExit()
		if got != tt.want || exited != tt.exited {
			t.Errorf("LastExit(%q, %q) = %d, %t; want %d, %t", tt.code, tt.signal, got, exited, tt.want, tt.exited)
		}
	}
}
