package desired

import "testing"

func TestSuggest(t *testing.T) {
	names := []string{"voice-agent", "qwen3-tts", "council-mlx", "kiwix", "tommy"}
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"voice-agnet", names, "voice-agent"},
		{"Voice-Agent", names, "voice-agent"}, // case does not count
		{"qwen3-ts", names, "qwen3-tts"},
		{"kiwi", names, "kiwix"},
		{"xtts-server", names, ""}, // nothing close
		{"tommy", names, ""},       // itself: nothing to suggest
		{"a", []string{"b"}, "b"},  // short words: one edit
		{"ab", []string{"cd"}, ""},
		{"prot", []string{"port", "host"}, "port"}, // two letters swapped
		{"dependson", []string{"dependsOn", "description"}, "dependsOn"},
		{"programArgument", []string{"program", "programArguments"}, "programArguments"},
		{"sam", []string{"sbm", "sam1"}, "sam1"}, // equal distance: the first sorted
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
	if got, want := DidYouMean("kiwi", names), ` (did you mean "kiwix"?)`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
	if got := DidYouMean("zzz", names); got != "" {
		t.Errorf("DidYouMean(zzz) = %q, want none", got)
	}
}
