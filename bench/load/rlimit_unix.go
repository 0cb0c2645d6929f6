//go:build unix

package load

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises the soft limit of open files towards need (up to
// the hard limit) and fails with a clear message when that is not enough.
func RaiseFileLimit(need uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("read open-file limit: %w", err)
	}
	if l.Cur >= need {
		return nil
	}
	l.Cur = min(need, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raise open-file limit to %d: %w", l.Cur, err)
	}
	if l.Cur < need {
		return fmt.Errorf("this run needs about %d open files; the hard limit is %d (raise it: ulimit -Hn)", need, l.Max)
	}
	return nil
}
