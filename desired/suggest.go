package desired

import (
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Suggest returns the candidate closest to word by edit distance, compared
// case-insensitively, when it is close enough to be what was meant: at
// most a third of the longer word's letters (and at least one) differ. ""
// when none is, or when word is itself a candidate. Ties go to the
// candidate first in sorted order, so that a message never varies.
func Suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestDist := "", -1
	for _, c := range sorted {
		if c == word {
			return ""
		}
		d := levenshtein.ComputeDistance(w, strings.ToLower(c))
		limit := max(1, (max(len(w), len(c))+2)/3)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean is Suggest as the end of a message: ` (did you mean "x"?)`,
// or "" when nothing is close.
func DidYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}
