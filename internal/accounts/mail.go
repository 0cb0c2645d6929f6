package accounts

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Mail is one outgoing message.
type Mail struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends mail. Implementations must honour ctx's deadline.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// FileMailer writes each mail as an .eml file into Dir (demo and tests).
// With LogCodes it also logs the body, so a demo user sees the login code in
// the server log; never use that in production.
type FileMailer struct {
	Dir      string
	Log      *slog.Logger
	LogCodes bool
}

func (f *FileMailer) Send(ctx context.Context, m Mail) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("mail dir: %w", err)
	}
	name := fmt.Sprintf("%d-%s.eml", time.Now().UnixNano(), safeFileName(m.To))
	msg := formatMail("wache@localhost", m)
	tmp := filepath.Join(f.Dir, "."+name)
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(f.Dir, name)); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if f.Log != nil {
		if f.LogCodes {
			f.Log.InfoContext(ctx, "demo mail written", "to", m.To, "subject", m.Subject, "body", m.Body)
		} else {
			f.Log.InfoContext(ctx, "mail written", "file", name)
		}
	}
	return nil
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@':
			return r
		}
		return '_'
	}, s)
}

func formatMail(from string, m Mail) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, m.To, m.Subject, time.Now().UTC().Format(time.RFC1123Z))
	b.WriteString(strings.ReplaceAll(m.Body, "\n", "\r\n"))
	return []byte(b.String())
}

// SMTPMailer sends through an SMTP relay given as
// smtp://[user:password@]host:port?from=addr (STARTTLS when offered) or
// smtps://… (TLS from the start).
type SMTPMailer struct {
	addr     string
	host     string
	from     string
	auth     smtp.Auth
	implicit bool
}

// NewSMTPMailer parses the relay URL.
func NewSMTPMailer(raw string) (*SMTPMailer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("smtp url must look like smtp://user:pass@host:587?from=wache@example.org")
	}
	m := &SMTPMailer{host: u.Hostname(), from: u.Query().Get("from"), implicit: u.Scheme == "smtps"}
	port := u.Port()
	if port == "" {
		port = "587"
		if m.implicit {
			port = "465"
		}
	}
	m.addr = net.JoinHostPort(m.host, port)
	if m.from == "" {
		return nil, fmt.Errorf("smtp url needs ?from=sender@domain")
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.auth = smtp.PlainAuth("", u.User.Username(), pw, m.host)
	}
	return m, nil
}

func (m *SMTPMailer) Send(ctx context.Context, mail Mail) error {
	d := net.Dialer{Timeout: 15 * time.Second}
	var conn net.Conn
	var err error
	if m.implicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: m.host}}).DialContext(ctx, "tcp", m.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", m.addr)
	}
	if err != nil {
		return fmt.Errorf("smtp dial: %w", err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	defer c.Close()
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: m.host}); err != nil {
				return fmt.Errorf("smtp starttls: %w", err)
			}
		}
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(mail.To); err != nil {
		return fmt.Errorf("smtp rcpt: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(formatMail(m.from, mail)); err != nil {
		return fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	return c.Quit()
}
