package match

// maxCompare bounds the strings the distance functions look at: names are
// short, and the quadratic work must stay bounded for any input.
const maxCompare = 64

func clip(s string) string {
	if len(s) > maxCompare {
		return s[:maxCompare]
	}
	return s
}

// OSA returns the optimal-string-alignment distance of a and b (Levenshtein
// plus transposition of adjacent characters, the commonest typing error).
// It compares bytes: pass folded (A–Z) strings.
func OSA(a, b string) int {
	a, b = clip(a), clip(b)
	la, lb := len(a), len(b)
	if la == 0 {
		return lb
	}
	if lb == 0 {
		return la
	}
	// Three rolling rows: two back for transpositions.
	prev2 := make([]int, lb+1)
	prev := make([]int, lb+1)
	cur := make([]int, lb+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= la; i++ {
		cur[0] = i
		for j := 1; j <= lb; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[lb]
}

// JaroWinkler returns the Jaro–Winkler similarity of a and b in [0, 1],
// which favours strings that agree at the start (where names are typed
// most carefully).
func JaroWinkler(a, b string) float64 {
	a, b = clip(a), clip(b)
	if a == b {
		if a == "" {
			return 0
		}
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	window := max(la, lb)/2 - 1
	if window < 0 {
		window = 0
	}
	var ma, mb [maxCompare]bool
	m := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && a[i] == b[j] {
				ma[i], mb[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, j := 0, 0
	for i := 0; i < la; i++ {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if a[i] != b[j] {
			t++
		}
		j++
	}
	fm := float64(m)
	jaro := (fm/float64(la) + fm/float64(lb) + (fm-float64(t)/2)/fm) / 3
	prefix := 0
	for prefix < min(4, la, lb) && a[prefix] == b[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// Similarity compares two folded names in [0, 1]: the mean of Jaro–Winkler
// and the length-normalised OSA distance, so that one typo in a long name
// costs less than in a short one while agreeing starts still count.
func Similarity(a, b string) float64 {
	if a == "" || b == "" {
		return 0
	}
	if a == b {
		return 1
	}
	d := OSA(a, b)
	n := max(len(clip(a)), len(clip(b)))
	lev := 1 - float64(d)/float64(n)
	if lev < 0 {
		lev = 0
	}
	return (JaroWinkler(a, b) + lev) / 2
}
