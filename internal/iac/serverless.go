package iac

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxSlsDepth bounds variables that refer to variables.
const maxSlsDepth = 8

// slsString resolves the Serverless Framework variables of a string:
// ${self:a.b} reads the file itself, a variable with a fallback
// (${opt:stage, 'dev'}, ${env:X, 'y'}) takes the fallback as a parameter
// takes its default, ${sls:stage} is provider.stage or dev. Anything else
// (${ssm:...}, ${cf:...}, a variable without a fallback) is only known
// when the service is deployed.
func (t *cfnTemplate) slsString(s string, depth int) any {
	from := 0
	for range 32 {
		end := strings.Index(s[from:], "}")
		if end < 0 {
			return s
		}
		end += from
		start := strings.LastIndex(s[:end], "${")
		if start < from {
			return s
		}
		expr := s[start+2 : end]
		if !slsSource(expr) {
			// ${AWS::Region} in an Fn::Sub, ${Param}: CloudFormation's.
			from = end + 1
			continue
		}
		v := t.slsVar(expr, depth)
		if start == 0 && end == len(s)-1 {
			// The whole string is the variable: keep its type.
			return v
		}
		var text string
		switch x := v.(type) {
		case unknown:
			return x
		case string:
			text = x
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			text = strconv.FormatBool(x)
		default:
			return unknown{why: "${" + expr + "} is not a string"}
		}
		s = s[:start] + text + s[end+1:]
		from = start
	}
	return unknown{why: "too many Serverless variables in " + strconv.Quote(s)}
}

// slsSources are the Serverless Framework variable sources; other ${...}
// are CloudFormation's (Fn::Sub).
var slsSources = []string{"self:", "opt:", "env:", "sls:", "param:", "ssm:", "cf:", "cf(", "s3:", "file(", "strToBool(", "aws:", "git:", "sst:"}

func slsSource(expr string) bool {
	expr = strings.TrimSpace(expr)
	for _, p := range slsSources {
		if strings.HasPrefix(expr, p) {
			return true
		}
	}
	return false
}

func (t *cfnTemplate) slsVar(expr string, depth int) any {
	if depth > maxSlsDepth {
		return unknown{why: "Serverless variables refer to each other too deeply"}
	}
	src, fallback, hasFallback := strings.Cut(expr, ",")
	src = strings.TrimSpace(src)
	fb := func(why string) any {
		if !hasFallback {
			return unknown{why: why}
		}
		f := strings.TrimSpace(fallback)
		if len(f) >= 2 && (f[0] == '\'' || f[0] == '"') && f[len(f)-1] == f[0] {
			return f[1 : len(f)-1]
		}
		if n, err := strconv.ParseFloat(f, 64); err == nil {
			return n
		}
		if f == "true" || f == "false" {
			return f == "true"
		}
		return unknown{why: why}
	}
	switch {
	case strings.HasPrefix(src, "self:"):
		// A variable's value may hold variables (a mapping of them, a
		// string naming another): the nesting is bounded however it is
		// reached.
		t.slsDepth++
		defer func() { t.slsDepth-- }()
		if t.slsDepth > maxSlsDepth {
			return unknown{why: "Serverless variables refer to each other too deeply"}
		}
		n := t.root
		for _, k := range strings.Split(strings.TrimPrefix(src, "self:"), ".") {
			_, n = mapGet(n, k)
			if n == nil {
				return fb("${" + src + "} is not in the file")
			}
		}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			return t.slsString(n.Value, depth+1)
		}
		return t.value(n)
	case src == "sls:stage":
		_, p := mapGet(t.root, "provider")
		if _, st := mapGet(p, "stage"); st != nil && st.Kind == yaml.ScalarNode {
			if strings.Contains(st.Value, "${") {
				return t.slsString(st.Value, depth+1)
			}
			return st.Value
		}
		return "dev"
	}
	return fb("${" + src + "} is only known when the service is deployed")
}
