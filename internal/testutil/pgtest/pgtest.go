// Package pgtest starts a throw-away PostgreSQL server (Debian's packaged
// binaries) for tests: initdb into the test's temporary directory, pg_ctl
// start on a free loopback port with the unix socket in that directory too,
// stopped when the test ends. Nothing is shared with, or left behind on, the
// machine.
//
// Where PostgreSQL is not installed the test skips with a message saying how
// to install it; with IMMUTAG_REQUIRE_POSTGRES=1 (CI) it fails instead, so a
// missing install step cannot turn the PostgreSQL tests into silent skips.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns a missing PostgreSQL into a
// failure instead of a skip.
const RequireEnv = "IMMUTAG_REQUIRE_POSTGRES"

// Server is one running PostgreSQL cluster owned by a test.
type Server struct {
	// Host and Port are the loopback TCP address the server listens on.
	Host string
	Port int
	// User is the superuser (trust authentication on loopback only).
	User string
	// Dir is the cluster's data directory; Socket the unix socket directory.
	Dir, Socket string

	bin   string
	cred  *syscall.Credential
	dbSeq atomic.Int64
}

// BinDir finds the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin (Debian's layout), else the directory of initdb
// on PATH. It returns "" when PostgreSQL is not installed.
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start runs a fresh PostgreSQL cluster for tb and stops it at the end of
// the test. It skips (or fails, see RequireEnv) when PostgreSQL is missing.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := BinDir()
	if bin == "" {
		msg := "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH; " +
			"install them (Debian: apt-get install -y postgresql) to run the PostgreSQL tests"
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s (%s=1 requires them)", msg, RequireEnv)
		}
		tb.Skip(msg)
	}
	s := &Server{Host: "127.0.0.1", User: "postgres", bin: bin}
	root := tb.TempDir()
	s.Dir = filepath.Join(root, "data")
	s.Socket = root
	// The unix socket path must fit in sun_path (108 bytes); a long test name
	// makes TempDir long, so fall back to a short directory of our own.
	if len(s.Socket)+len("/.s.PGSQL.65535") >= 100 {
		d, err := os.MkdirTemp("", "pgs")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(d) })
		s.Socket = d
	}
	// PostgreSQL refuses to run as root: run it as the postgres user, which
	// must own the directories it writes and reach them through their parents.
	if os.Geteuid() == 0 {
		cred, err := postgresCredential()
		if err != nil {
			tb.Fatalf("running as root and %v", err)
		}
		s.cred = cred
		for _, d := range []string{filepath.Dir(root), root, s.Socket} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				tb.Fatalf("chown %s for the postgres user: %v", d, err)
			}
		}
	}
	if out, err := s.run("initdb", "-D", s.Dir, "-U", s.User, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	// A port picked free can be taken before the server binds it: try a few.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50", port, s.Socket)
		logFile := filepath.Join(root, "postgres.log")
		out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.Dir, "-l", logFile, "-o", opts)
		if err == nil {
			s.Port = port
			tb.Cleanup(func() {
				if out, err := s.run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", s.Dir); err != nil {
					tb.Logf("pg_ctl stop: %v\n%s", err, out)
				}
			})
			return s
		}
		log, _ := os.ReadFile(logFile)
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	tb.Fatal(lastErr)
	return nil
}

// DSN is a pgx/libpq URL for database db on this server.
func (s *Server) DSN(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(s.User), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// NewDatabase creates an empty database and returns its DSN, so that one
// server can serve several independent tests or subtests.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d", s.dbSeq.Add(1))
	if out, err := s.Psql("postgres", "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v\n%s", name, err, out)
	}
	return s.DSN(name)
}

// Psql runs one SQL command through psql on database db and returns its
// output; tests use it to look at the server without a Go driver.
func (s *Server) Psql(db, sql string) (string, error) {
	out, err := s.run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", s.User, "-d", db, "-c", sql)
	return strings.TrimSpace(out), err
}

func (s *Server) run(tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, tool), args...)
	if tool == "psql" && !isExec(cmd.Path) {
		cmd.Path, _ = exec.LookPath("psql")
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(cmd.Env, "HOME="+os.TempDir())
		cmd.Dir = os.TempDir()
	}
	err := cmd.Run()
	return buf.String(), err
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("no postgres user to run the server as (PostgreSQL refuses to run as root): " + err.Error())
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user has ids %q/%q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
