package inproc

import (
	"slices"
	"strings"
)

// node is one level of the subscription trie: a pattern's tokens are the path
// from the root. Patterns must be valid (broker.ValidatePattern).
type node struct {
	next map[string]*node // literal tokens
	star *node            // "*"
	subs []*subscription  // patterns that end at this node
	rest []*subscription  // patterns that end with ">" after this node
}

func (n *node) empty() bool {
	return len(n.next) == 0 && n.star == nil && len(n.subs) == 0 && len(n.rest) == 0
}

func (n *node) insert(pattern string, s *subscription) {
	for {
		tok, after, more := strings.Cut(pattern, ".")
		if tok == ">" {
			n.rest = append(n.rest, s)
			return
		}
		var c *node
		if tok == "*" {
			if n.star == nil {
				n.star = &node{}
			}
			c = n.star
		} else {
			if n.next == nil {
				n.next = make(map[string]*node)
			}
			if c = n.next[tok]; c == nil {
				c = &node{}
				n.next[tok] = c
			}
		}
		n = c
		if !more {
			n.subs = append(n.subs, s)
			return
		}
		pattern = after
	}
}

// remove deletes s under pattern and prunes nodes left empty, so that
// short-lived subjects (one per device, say) do not grow the trie forever.
// It reports whether s was found.
func (n *node) remove(pattern string, s *subscription) bool {
	tok, after, more := strings.Cut(pattern, ".")
	if tok == ">" {
		return drop(&n.rest, s)
	}
	c := n.star
	if tok != "*" {
		c = n.next[tok]
	}
	if c == nil {
		return false
	}
	var ok bool
	if more {
		ok = c.remove(after, s)
	} else {
		ok = drop(&c.subs, s)
	}
	if ok && c.empty() {
		if tok == "*" {
			n.star = nil
		} else {
			delete(n.next, tok)
		}
	}
	return ok
}

func drop(list *[]*subscription, s *subscription) bool {
	i := slices.Index(*list, s)
	if i < 0 {
		return false
	}
	*list = slices.Delete(*list, i, i+1)
	return true
}

// match appends to out every subscription whose pattern matches subject (a
// valid publish subject). Each appears once: a pattern is one path.
func (n *node) match(subject string, out []*subscription) []*subscription {
	// ">" needs at least one more token, and subject always has one here.
	out = append(out, n.rest...)
	tok, after, more := strings.Cut(subject, ".")
	if c := n.next[tok]; c != nil {
		out = c.matchNext(after, more, out)
	}
	if n.star != nil {
		out = n.star.matchNext(after, more, out)
	}
	return out
}

func (n *node) matchNext(after string, more bool, out []*subscription) []*subscription {
	if !more {
		return append(out, n.subs...)
	}
	return n.match(after, out)
}

// all appends every subscription in the trie to out.
func (n *node) all(out []*subscription) []*subscription {
	out = append(out, n.subs...)
	out = append(out, n.rest...)
	for _, c := range n.next {
		out = c.all(out)
	}
	if n.star != nil {
		out = n.star.all(out)
	}
	return out
}
