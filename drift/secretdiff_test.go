package drift

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretDiff(t *testing.T) {
	const s = SecretSentinel
	plist := func(v string) string {
		return "<dict>\n\t<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>TOKEN</key>\n\t\t<string>" + v + "</string>\n\t</dict>\n\t<key>RunAtLoad</key>\n\t<true/>\n</dict>\n"
	}
	tests := []struct {
		name           string
		old, new, twin string
		want           string
		never          []string // old values, in whatever spelling
	}{
		{
			name: "rotated: both sides masked, whatever the old spelling",
			old:  plist("p&amp;ss&#34;w&lt;rd"), new: plist("new-value"), twin: plist(s),
			want: "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n \t<key>EnvironmentVariables</key>\n \t<dict>\n \t\t<key>TOKEN</key>\n" +
				"-\t\t<string>***</string> (secret changed)\n+\t\t<string>***</string> (secret changed)\n \t</dict>\n \t<key>RunAtLoad</key>\n \t<true/>\n",
			never: []string{"p&amp;ss"},
		},
		{
			name: "a hand edit elsewhere: the unchanged secret is masked as context",
			old:  strings.Replace(plist("value"), "RunAtLoad", "RunAtLoad_", 1), new: plist("value"), twin: plist(s),
			want: "--- a/f\n+++ b/f\n@@ -4,6 +4,6 @@\n \t\t<key>TOKEN</key>\n" +
				" \t\t<string>***</string> (secret unchanged)\n \t</dict>\n-\t<key>RunAtLoad_</key>\n+\t<key>RunAtLoad</key>\n \t<true/>\n </dict>\n",
		},
		{
			name: "an old multi-line value: every line of it masked",
			old:  plist("old-one\nold-two\nold-three"), new: plist("v"), twin: plist(s),
			want: "--- a/f\n+++ b/f\n@@ -2,9 +2,7 @@\n \t<key>EnvironmentVariables</key>\n \t<dict>\n \t\t<key>TOKEN</key>\n" +
				"-\t\t<string>*** (secret changed)\n-*** (secret changed)\n-*** (secret changed)\n+\t\t<string>***</string> (secret changed)\n \t</dict>\n \t<key>RunAtLoad</key>\n \t<true/>\n",
			never: []string{"old-one", "old-two", "old-three"},
		},
		{
			name: "a YAML key that held the secret, away from the new one, is masked by its key",
			old:  "a: 1\ntoken: old-secret\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\n",
			new:  "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ntoken: new\n", twin: "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ntoken: " + s + "\n",
			want:  "--- a/f\n+++ b/f\n@@ -1,8 +1,9 @@\n a: 1\n-token: *** (secret changed)\n b: 2\n c: 3\n d: 4\n e: 5\n f: 6\n g: 7\n+h: 8\n+token: *** (secret changed)\n",
			never: []string{"old-secret"},
		},
		{
			name: "templated through urlquery: the twin says where, not the value",
			old:  "url: http://x/?t=a%26b\n", new: "url: http://x/?t=c%3Dd\n", twin: "url: http://x/?t=" + s + "\n",
			want:  "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-url: http://x/?t=*** (secret changed)\n+url: http://x/?t=*** (secret changed)\n",
			never: []string{"a%26b", "c%3Dd"},
		},
		{
			name: "no twin: every changed line masked, unchanged lines shown",
			old:  "keep\nold-secret\n", new: "keep\n  new-secret\n",
			want:  "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n keep\n-  *** (secret changed)\n+  *** (secret changed)\n",
			never: []string{"old-secret", "new-secret"},
		},
		{
			name: "an edit beside an unchanged secret on its line shows; the secret does not",
			old:  "  probe: {header: 'Bearer tok', timeout: 11}\n", new: "  probe: {header: 'Bearer tok', timeout: 10}\n",
			twin: "  probe: {header: 'Bearer " + s + "', timeout: 10}\n",
			want: "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-  probe: {header: 'Bearer ***', timeout: 11} (secret unchanged)\n" +
				"+  probe: {header: 'Bearer ***', timeout: 10} (secret unchanged)\n",
			never: []string{"tok"},
		},
		{
			name: "created",
			new:  "a: 1\ntoken: v\n", twin: "a: 1\ntoken: " + s + "\n",
			want: "--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+a: 1\n+token: *** (secret changed)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var twin []byte
			if tt.twin != "" {
				twin = []byte(tt.twin)
			}
			var got string
			if tt.old == "" {
				got = SecretCreatedDiff("f", []byte(tt.new), twin)
			} else {
				got = SecretDiff("f", []byte(tt.old), []byte(tt.new), twin)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SecretDiff (-want +got):\n%s", diff)
			}
			for _, v := range tt.never {
				if strings.Contains(got, v) {
					t.Errorf("diff shows %q", v)
				}
			}
		})
	}
}

// The old bytes of a target that held a secret no render can place any
// more (rotated, or no longer templated into it): every changed old line is
// masked, the new lines that hold none show (issue 12, removed + rotated).
func TestSecretDiffOld(t *testing.T) {
	old := "name: a\nheaders: {Authorization: Bearer OLD-VALUE-1}\ncommand: run --token OLD-VALUE-1\nport: 1\n"
	new := "name: a\nheaders: {Authorization: Bearer static}\ncommand: run\nport: 1\n"
	got := SecretDiffOld("f", []byte(old), []byte(new), []byte(new))
	want := "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n name: a\n-*** (secret changed)\n-*** (secret changed)\n" +
		"+headers: {Authorization: Bearer static}\n+command: run\n port: 1\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if strings.Contains(got, "OLD-VALUE") {
		t.Errorf("the old value shows:\n%s", got)
	}
	// A removed file that held a secret: every line masked.
	got = SecretDeletedDiff("f", []byte(old))
	if strings.Contains(got, "OLD-VALUE") || strings.Contains(got, "Bearer") || !strings.HasPrefix(got, "--- a/f\n+++ /dev/null\n@@ -1,4 +0,0 @@\n") {
		t.Errorf("deleted diff:\n%s", got)
	}
}
