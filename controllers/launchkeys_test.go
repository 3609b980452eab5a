package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// TestRenderPlistKeys: the keys of issue 14 item 7 render as the plist
// values launchd reads, in the canonical (sorted) key order, extra's keys
// among them.
func TestRenderPlistKeys(t *testing.T) {
	a := &v1.LaunchAgent{ObjectMeta: v1.ObjectMeta{Name: "inbox"}, Spec: v1.LaunchAgentSpec{
		ProgramArguments: []string{"/opt/inbox/bin/inbox"},
		KeepAlive: &v1.KeepAlive{Conditions: v1.Conditions{SuccessfulExit: boolp(false), NetworkState: boolp(true),
			PathState: map[string]bool{"/var/x/.ready": true}, OtherJobEnabled: map[string]bool{"com.sanctum.gateway": false}}},
		WatchPaths: []string{"/var/x/b", "/var/x/a"}, QueueDirectories: []string{"/var/x/q"},
		ThrottleInterval: intp(0), LimitLoadToSessionType: v1.StringList{"Aqua"}, Nice: intp(-5),
		SoftResourceLimits: &v1.ResourceLimits{NumberOfFiles: int64p(4096)},
		HardResourceLimits: &v1.ResourceLimits{Core: int64p(0), NumberOfProcesses: int64p(64)},
		Extra: map[string]v1.PlistValue{"AbandonProcessGroup": {Value: true}, "ExitTimeOut": {Value: int64(20)},
			"Sockets": {Value: map[string]v1.PlistValue{"Listeners": {Value: map[string]v1.PlistValue{"SockServiceName": {Value: "8080"}}}}}},
	}}
	out, err := RenderPlist(a)
	if err != nil {
		t.Fatal(err)
	}
	// A render is in the canonical form: its canonical digest is its own
	// (the pass and the index compute nothing for what reconcile wrote).
	if c := PlistCanon(out); c != digest(out) {
		t.Errorf("PlistCanon(render) = %s, want the render's digest %s", c, digest(out))
	}
	var got map[string]any
	if _, err := plist.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Label": "com.sanctum.inbox", "ProgramArguments": []any{"/opt/inbox/bin/inbox"},
		"KeepAlive": map[string]any{"SuccessfulExit": false, "NetworkState": true,
			"PathState": map[string]any{"/var/x/.ready": true}, "OtherJobEnabled": map[string]any{"com.sanctum.gateway": false}},
		"WatchPaths": []any{"/var/x/b", "/var/x/a"}, "QueueDirectories": []any{"/var/x/q"},
		"ThrottleInterval": uint64(0), "LimitLoadToSessionType": "Aqua", "Nice": int64(-5),
		"SoftResourceLimits":  map[string]any{"NumberOfFiles": uint64(4096)},
		"HardResourceLimits":  map[string]any{"Core": uint64(0), "NumberOfProcesses": uint64(64)},
		"AbandonProcessGroup": true, "ExitTimeOut": uint64(20),
		"Sockets": map[string]any{"Listeners": map[string]any{"SockServiceName": "8080"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered plist mismatch (-want +got):\n%s", diff)
	}
	// The canonical order: keys sorted, as plutil writes them.
	var keys []string
	for _, line := range splitLines(string(out)) {
		if len(line) > 7 && line[:7] == "\t\t<key>" {
			keys = append(keys, line[7:len(line)-6])
		}
	}
	wantKeys := []string{"AbandonProcessGroup", "ExitTimeOut", "HardResourceLimits", "KeepAlive", "Label",
		"LimitLoadToSessionType", "Nice", "ProgramArguments", "QueueDirectories", "Sockets", "SoftResourceLimits",
		"ThrottleInterval", "WatchPaths"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("key order (-want +got):\n%s", diff)
	}
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// TestSamePlist: another layout of the same plist is the same; a value,
// a type or a key that differs is not.
func TestSamePlist(t *testing.T) {
	a := &v1.LaunchAgent{ObjectMeta: v1.ObjectMeta{Name: "x"}, Spec: v1.LaunchAgentSpec{
		ProgramArguments: []string{"/opt/x"}, ThrottleInterval: intp(30),
		StartCalendarInterval: []v1.CalendarInterval{{Hour: intp(4)}}, LimitLoadToSessionType: v1.StringList{"Aqua"}}}
	want, err := RenderPlist(a)
	if err != nil {
		t.Fatal(err)
	}
	head := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>`
	tests := []struct {
		name string
		body string
		same bool
	}{
		{"another order and indentation", `<key>ThrottleInterval</key> <integer>30</integer>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><array><string>Aqua</string></array>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, true},
		{"a real where an integer is", `<key>ThrottleInterval</key><real>30</real>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><string>Aqua</string>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, false},
		{"a key more", `<key>ThrottleInterval</key><integer>30</integer><key>RunAtLoad</key><true/>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><string>Aqua</string>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, false},
		{"another value", `<key>ThrottleInterval</key><integer>31</integer>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><string>Aqua</string>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, false},
		{"not a plist", `<key>`, false},
		// The decoder forgives these; launchd's parser does not.
		{"a stray character between elements", `<key>ThrottleInterval</key>)<integer>30</integer>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><string>Aqua</string>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, false},
		{"an element that is no plist's", `<key>ThrottleInterval</key><integer>30</integer><sTring>x</sTring>
			<key>StartCalendarInterval</key><dict><key>Hour</key><integer>4</integer></dict>
			<key>LimitLoadToSessionType</key><string>Aqua</string>
			<key>ProgramArguments</key><array><string>/opt/x</string></array><key>Label</key><string>com.sanctum.x</string>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SamePlist([]byte(head+tt.body+`</dict></plist>`), want); got != tt.same {
				t.Errorf("SamePlist = %v, want %v", got, tt.same)
			}
			if tt.same && SamePlist([]byte(head+tt.body+`</dict></pliSt>`), want) {
				t.Errorf("SamePlist took a damaged closing tag")
			}
		})
	}
}
