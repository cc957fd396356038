package config

import (
	"net/url"
	"regexp"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) ledger(path string, v *value) (Ledger, error) {
	var l Ledger
	if v.kind != vNull && v.kind != vMap {
		return l, d.typeErr(path, v, "a mapping (dsn, dsn_env)")
	}
	err := d.walk(v, path, ledgerKeys, "", "", func(key, kp string, v *value) (err error) {
		switch key {
		case "dsn":
			if l.DSN, err = d.str(kp, v); err == nil && dsnHasPassword(l.DSN) {
				return d.errAt(kp, v.line, "inline secrets are refused: the DSN holds a password; put the whole DSN in an environment variable and name it in ledger.dsn_env")
			}
		case "dsn_env":
			if l.DSNEnv, err = d.str(kp, v); err == nil && l.DSNEnv != "" && !envName.MatchString(l.DSNEnv) {
				return d.errAt(kp, v.line, "%q is not an environment variable name", l.DSNEnv)
			}
		}
		return err
	})
	if err == nil && l.DSN != "" && l.DSNEnv != "" {
		return l, d.errAt(join(path, "dsn_env"), v.line, "set ledger.dsn or ledger.dsn_env, not both")
	}
	return l, err
}

// dsnHasPassword mirrors ledger.HasPassword (config must not import the
// database drivers): a URL's user password or password= parameter, or a
// password=... field of a key=value DSN.
func dsnHasPassword(dsn string) bool {
	l := strings.ToLower(dsn)
	if strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return strings.Contains(dsn, "@")
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			return true
		}
	}
	return false
}
