package observed

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	hashA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hashB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// remoteErr is a *RemoteError in a form cmp can compare.
type remoteErr struct {
	Kind   string
	Detail string
}

// asRemoteErr returns err as a remoteErr, or nil when err is nil; it fails
// when err is not a *RemoteError.
func asRemoteErr(t *testing.T, err error) *remoteErr {
	t.Helper()
	if err == nil {
		return nil
	}
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RemoteError", err, err)
	}
	if !errors.Is(err, re.Kind) {
		t.Errorf("errors.Is(%v, %v) = false", err, re.Kind)
	}
	return &remoteErr{Kind: re.Kind.Error(), Detail: re.Detail}
}

func TestParseDigests(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    map[string]RemoteFile
		wantErr *remoteErr
	}{
		{
			name: "every state",
			out: "F\t.openclaw/workspace/SOUL.md\nM\t.openclaw/workspace/TOOLS.md\nD\tnodir/x\nL\tlinked/y\nX\tadir\n" +
				"HASHES\n" + hashA + "  .openclaw/workspace/SOUL.md\nEND\n",
			want: map[string]RemoteFile{
				".openclaw/workspace/SOUL.md":  {State: RemoteRegular, SHA256: hashA},
				".openclaw/workspace/TOOLS.md": {State: RemoteMissing},
				"nodir/x":                      {State: RemoteNoDir},
				"linked/y":                     {State: RemoteSymlink},
				"adir":                         {State: RemoteOther},
			},
		},
		{
			name: "two regular files",
			out:  "F\ta\nF\tb c\nHASHES\n" + hashB + "  b c\n" + hashA + "  a\nEND\n",
			want: map[string]RemoteFile{
				"a":   {State: RemoteRegular, SHA256: hashA},
				"b c": {State: RemoteRegular, SHA256: hashB},
			},
		},
		{
			name: "regular file without a hash is unreadable",
			out:  "F\ta\nF\tb\nHASHES\n" + hashA + "  a\nEND\n",
			want: map[string]RemoteFile{
				"a": {State: RemoteRegular, SHA256: hashA},
				"b": {State: RemoteRegular, SHA256: "unreadable"},
			},
		},
		{
			name: "hash of a path that is not a regular file is ignored",
			out:  "M\ta\nHASHES\n" + hashA + "  a\n" + hashB + "  unasked\nEND\n",
			want: map[string]RemoteFile{"a": {State: RemoteMissing}},
		},
		{
			name: "no paths",
			out:  "HASHES\nEND\n",
			want: map[string]RemoteFile{},
		},
		{
			name: "no hashes section",
			out:  "M\ta\nEND\n",
			want: map[string]RemoteFile{"a": {State: RemoteMissing}},
		},
		{
			name: "lines after END are ignored",
			out:  "M\ta\nHASHES\nEND\ngarbage\n",
			want: map[string]RemoteFile{"a": {State: RemoteMissing}},
		},
		{
			name: "path with a tab",
			out:  "M\ta\tb\nHASHES\nEND\n",
			want: map[string]RemoteFile{"a\tb": {State: RemoteMissing}},
		},
		{
			name:    "empty answer",
			out:     "",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: "the answer was cut short"},
		},
		{
			name:    "no END",
			out:     "F\ta\nHASHES\n" + hashA + "  a\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: "the answer was cut short"},
		},
		{
			name:    "unknown state",
			out:     "Q\tx\nHASHES\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "Q\tx"`},
		},
		{
			name:    "state line without a tab",
			out:     "F a\nHASHES\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected answer "F a"`},
		},
		{
			name:    "short hash",
			out:     "F\ta\nHASHES\nabc  a\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "abc  a"`},
		},
		{
			name:    "hash line with one space",
			out:     "F\ta\nHASHES\n" + hashA + " a\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "` + hashA + ` a"`},
		},
		{
			name:    "state line after HASHES",
			out:     "HASHES\nF\ta\nEND\n",
			wantErr: &remoteErr{Kind: "remote command failed", Detail: `unexpected digest line "F\ta"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDigests([]byte(tt.out))
			if diff := cmp.Diff(tt.wantErr, asRemoteErr(t, err)); diff != "" {
				t.Fatalf("ParseDigests error mismatch (-want +got):\n%s", diff)
			}
			if err == nil && got == nil {
				t.Fatal("nil result without an error")
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("ParseDigests mismatch (-want +got):\n%s", diff)
			}
			if err != nil && !errors.Is(err, ErrRemote) {
				t.Errorf("error %v is not ErrRemote", err)
			}
		})
	}
}

// exitError runs a shell that exits with code and returns its *exec.ExitError.
func exitError(t *testing.T, code string) error {
	t.Helper()
	err := exec.Command("sh", "-c", "exit "+code).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sh -c 'exit %s': %v, want an *exec.ExitError", code, err)
	}
	return err
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		code   string // exit code of the failed ssh; "" for an error that is not an exit
		stderr string
		want   remoteErr
	}{
		{name: "connection refused", code: "255",
			stderr: "ssh: connect to host 127.0.0.1 port 1: Connection refused\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: connect to host 127.0.0.1 port 1: Connection refused"}},
		{name: "unknown host", code: "255",
			stderr: "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: Could not resolve hostname nowhere.invalid: Name or service not known"}},
		{name: "timeout after a warning keeps the last line", code: "255",
			stderr: "Warning: something\nssh: connect to host 10.0.0.9 port 22: Operation timed out\n",
			want:   remoteErr{Kind: "unreachable", Detail: "ssh: connect to host 10.0.0.9 port 22: Operation timed out"}},
		{name: "silent 255", code: "255", stderr: "",
			want: remoteErr{Kind: "unreachable", Detail: "ssh exited 255 without a word"}},
		{name: "publickey denied", code: "255",
			stderr: "user@127.0.0.1: Permission denied (publickey).\n",
			want:   remoteErr{Kind: "authentication failed", Detail: "user@127.0.0.1: Permission denied (publickey)."}},
		{name: "bare permission denied", code: "255",
			stderr: "Permission denied (publickey).",
			want:   remoteErr{Kind: "authentication failed", Detail: "Permission denied (publickey)."}},
		{name: "too many authentication failures", code: "255",
			stderr: "Received disconnect from 10.0.0.3 port 22:2: Too many authentication failures\n",
			want:   remoteErr{Kind: "authentication failed", Detail: "Received disconnect from 10.0.0.3 port 22:2: Too many authentication failures"}},
		{name: "host key verification failed", code: "255",
			stderr: "Host key verification failed.\n",
			want:   remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "host key verification after a notice", code: "255",
			stderr: "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n",
			want:   remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "changed host identification", code: "255",
			stderr: "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n" +
				"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n" +
				"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n" +
				"Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n" +
				"Host key verification failed.\n",
			want: remoteErr{Kind: "host key mismatch", Detail: "Host key verification failed."}},
		{name: "bad control path is local setup", code: "255",
			stderr: "unix_listener: path \"/very/long/socket\" too long for Unix domain socket\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "local ssh setup: unix_listener: path \"/very/long/socket\" too long for Unix domain socket"}},
		{name: "bad config option is local setup", code: "255",
			stderr: "/home/u/.ssh/config: line 3: Bad configuration option: frobnicate\n/home/u/.ssh/config: terminating, 1 bad configuration options\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "local ssh setup: /home/u/.ssh/config: terminating, 1 bad configuration options"}},
		{name: "remote script failure", code: "90",
			stderr: "remote home /nope does not exist\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "remote home /nope does not exist"}},
		{name: "remote exit 1 mentioning permission denied is not auth", code: "1",
			stderr: "sh: 1: cannot create x: Permission denied\n",
			want:   remoteErr{Kind: "remote command failed", Detail: "sh: 1: cannot create x: Permission denied"}},
		{name: "remote failure without stderr", code: "3", stderr: "",
			want: remoteErr{Kind: "remote command failed", Detail: "exit status 3"}},
		{name: "not an exit error", code: "", stderr: "",
			want: remoteErr{Kind: "remote command failed", Detail: "exec: \"ssh\": executable file not found in $PATH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.code != "" {
				err = exitError(t, tt.code)
			} else {
				err = &exec.Error{Name: "ssh", Err: exec.ErrNotFound}
			}
			got := asRemoteErr(t, classify(err, tt.stderr))
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("classify mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRemoteErrorIs: each kind of failure is found with errors.Is, and only
// its own kind.
func TestRemoteErrorIs(t *testing.T) {
	kinds := []error{ErrUnreachable, ErrAuth, ErrHostKey, ErrRemote}
	for _, k := range kinds {
		err := error(&RemoteError{Kind: k, Detail: "d"})
		if diff := cmp.Diff(k.Error()+": d", err.Error()); diff != "" {
			t.Errorf("Error() mismatch (-want +got):\n%s", diff)
		}
		var is []string
		for _, other := range kinds {
			if errors.Is(err, other) {
				is = append(is, other.Error())
			}
		}
		if diff := cmp.Diff(k.Error(), strings.Join(is, ",")); diff != "" {
			t.Errorf("errors.Is kinds mismatch (-want +got):\n%s", diff)
		}
	}
}
