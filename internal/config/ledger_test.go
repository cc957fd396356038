package config_test

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
)

func TestDecodeLedger(t *testing.T) {
	c, err := config.Decode("immutag.yaml", []byte(valid+"ledger:\n  dsn: postgres://immutag@db.internal:5432/ledger?sslmode=require\n"), nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ledger.DSN != "postgres://immutag@db.internal:5432/ledger?sslmode=require" {
		t.Fatalf("ledger = %+v", c.Ledger)
	}
	c, err = config.Decode("immutag.yaml", []byte(valid+"ledger: {dsn_env: IMMUTAG_LEDGER_DSN}\n"), nil, kinds)
	if err != nil || c.Ledger.DSNEnv != "IMMUTAG_LEDGER_DSN" {
		t.Fatalf("ledger = %+v, %v", c.Ledger, err)
	}
	for yaml, want := range map[string]string{
		"ledger:\n  dsn: postgres://u:hunter2@db/ledger\n": "immutag.yaml:18: ledger.dsn: inline secrets are refused",
		"ledger:\n  dsn: \"host=db password=hunter2\"\n":   "ledger.dsn: inline secrets are refused",
		"ledger:\n  dsn: /x.db\n  dsn_env: LEDGER\n":       "set ledger.dsn or ledger.dsn_env, not both",
		"ledger:\n  dsn_env: \"not a name\"\n":             "ledger.dsn_env: \"not a name\" is not an environment variable name",
		"ledger:\n  dns: /x.db\n":                          "ledger.dns",
		"ledger: [a]\n":                                    "ledger",
	} {
		_, err := config.Decode("immutag.yaml", []byte(valid+yaml), nil, kinds)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to contain %q", yaml, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error echoes the password: %v", yaml, err)
		}
	}
}
