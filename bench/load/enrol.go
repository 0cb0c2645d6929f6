package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/client"
)

// device is one enrolled load device (one user each: login codes have a
// per-address cooldown, so several devices per user would enrol slowly).
type device struct {
	Email string `json:"email"`
	Token string `json:"token"`
}

// tokenFile caches enrolled devices between runs against the same server.
type tokenFile struct {
	Server  string   `json:"server"`
	Devices []device `json:"devices"`
}

// Email returns the address of load device i.
func Email(prefix, domain string, i int) string {
	return fmt.Sprintf("%s-%05d@%s", prefix, i, domain)
}

var codeRE = regexp.MustCompile(`Anmeldecode: (\d{6})`)

// readCode returns the newest login code the server mailed to email into
// dataDir/mail (demo mode, or no SMTP relay configured).
func readCode(dataDir, email string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dataDir, "mail", "*-"+email+".eml"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no login mail for %s in %s (is --data the server's data directory, and does it run without --smtp?)",
			email, filepath.Join(dataDir, "mail"))
	}
	sort.Strings(files) // names start with the time in nanoseconds
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		return "", err
	}
	m := codeRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("no login code in %s", files[len(files)-1])
	}
	return string(m[1]), nil
}

// rateHint explains the server's login limits, which a load run meets first.
func rateHint(err error) string {
	if wache.ErrorCode(err) != wache.ERATELIMIT {
		return ""
	}
	return " (start the server with --auth-rate 1000 for load runs: the default allows 20 logins and then one every 2 s " +
		"per address; a second code for one address needs 30 s: reuse devices with --tokens or change --prefix)"
}

// login runs the real login flow for one address.
func login(ctx context.Context, server, dataDir, email string) (device, error) {
	c, err := client.New(server, "")
	if err != nil {
		return device{}, err
	}
	if err := c.RequestCode(ctx, email); err != nil {
		return device{}, fmt.Errorf("request code for %s: %w%s", email, err, rateHint(err))
	}
	code, err := readCode(dataDir, email)
	if err != nil {
		return device{}, err
	}
	p, err := c.Verify(ctx, email, code, "wacheload")
	if err != nil {
		return device{}, fmt.Errorf("verify %s: %w%s", email, err, rateHint(err))
	}
	return device{Email: p.Email, Token: p.Token}, nil
}

// enrol returns n logged-in devices: from the token file where it has them
// for this server, through the login flow otherwise (8 at a time).
func enrol(ctx context.Context, cfg *Config, server, dataDir string) ([]device, error) {
	devs := make([]device, cfg.Devices)
	have := map[string]string{}
	if cfg.Tokens != "" {
		b, err := os.ReadFile(cfg.Tokens)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read --tokens: %w", err)
		default:
			var tf tokenFile
			if err := json.Unmarshal(b, &tf); err != nil {
				return nil, fmt.Errorf("--tokens %s is not a wacheload token file: %w", cfg.Tokens, err)
			}
			if tf.Server == server {
				for _, d := range tf.Devices {
					have[d.Email] = d.Token
				}
			}
		}
	}
	var todo []int
	for i := range devs {
		devs[i].Email = Email(cfg.Prefix, cfg.Domain, i)
		if tok, ok := have[devs[i].Email]; ok {
			devs[i].Token = tok
		} else {
			todo = append(todo, i)
		}
	}
	if len(todo) < len(devs) {
		// One probe tells a stale file (server data reset) from a good one.
		c, _ := client.New(server, devs[0].Token)
		if devs[0].Token != "" {
			if _, err := c.Me(ctx); err != nil {
				return nil, fmt.Errorf("cached token of %s is not accepted (%v): delete %s to enrol afresh", devs[0].Email, err, cfg.Tokens)
			}
		}
	}
	if len(todo) > 0 {
		start := time.Now()
		var mu sync.Mutex
		var firstErr error
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < min(8, len(todo)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					d, err := login(ctx, server, dataDir, devs[i].Email)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					devs[i] = d
					mu.Unlock()
				}
			}()
		}
	feed:
		for _, i := range todo {
			mu.Lock()
			failed := firstErr != nil
			mu.Unlock()
			if failed {
				break
			}
			select {
			case next <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		if firstErr == nil {
			firstErr = ctx.Err()
		}
		if firstErr != nil {
			return nil, firstErr
		}
		cfg.logf("enrolled %d devices through the login flow in %v", len(todo), time.Since(start).Round(time.Millisecond))
	}
	if cfg.Tokens != "" && len(todo) > 0 {
		for _, d := range devs {
			have[d.Email] = d.Token
		}
		tf := tokenFile{Server: server}
		for e, t := range have {
			tf.Devices = append(tf.Devices, device{Email: e, Token: t})
		}
		sort.Slice(tf.Devices, func(i, j int) bool { return tf.Devices[i].Email < tf.Devices[j].Email })
		b, _ := json.MarshalIndent(tf, "", "  ")
		if err := os.WriteFile(cfg.Tokens, b, 0o600); err != nil {
			return nil, fmt.Errorf("write --tokens: %w", err)
		}
	}
	return devs, nil
}
