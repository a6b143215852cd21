// helm-render renders a Helm chart the way `helm template` does, for tests on machines
// without helm: Go's text/template with the sprig functions and Helm's own (include,
// tpl, required, toYaml, fromYaml), values from values.yaml, then -f files, then --set
// a.b=c (true/false/integers typed as Helm's --set types them). Output: the rendered
// manifests as one YAML stream, each prefixed by "# Source:", as helm prints them.
//
//	helm-render CHART [-n NAMESPACE] [--name RELEASE] [-f values.yaml]... [--set k=v]...
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "Error: "+format+"\n", args...)
	os.Exit(1)
}

func readYaml(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		fail("%s: %v", file, err)
	}
	return out
}

// merge copies src over dst, deeply for maps, as Helm coalesces values files.
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func typed(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return s
}

func set(values map[string]interface{}, assignment string) {
	eq := strings.Index(assignment, "=")
	if eq <= 0 {
		fail("--set %q is not key=value", assignment)
	}
	path := strings.Split(assignment[:eq], ".")
	m := values
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = typed(assignment[eq+1:])
}

func toYaml(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: helm-render CHART [-n NS] [--name RELEASE] [-f FILE]... [--set k=v]...")
	}
	chart := os.Args[1]
	namespace, release := "default", "release-name"
	values := readYaml(filepath.Join(chart, "values.yaml"))
	args := os.Args[2:]
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			fail("%s needs a value", args[i])
		}
		switch args[i] {
		case "-n", "--namespace":
			namespace = args[i+1]
		case "--name":
			release = args[i+1]
		case "-f", "--values":
			merge(values, readYaml(args[i+1]))
		case "--set":
			set(values, args[i+1])
		default:
			fail("unknown option %s", args[i])
		}
		i++
	}
	meta := readYaml(filepath.Join(chart, "Chart.yaml"))
	data := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true},
		"Chart":   map[string]interface{}{"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
	}
	root := template.New("chart")
	funcs := sprig.TxtFuncMap()
	funcs["include"] = func(name string, dot interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, dot)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, dot interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, dot)
		return buf.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		_ = yaml.Unmarshal([]byte(s), &out)
		return out
	}
	root.Funcs(funcs).Option("missingkey=zero")
	files, _ := filepath.Glob(filepath.Join(chart, "templates", "*"))
	sort.Strings(files)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(text)); err != nil {
			fail("parse error: %v", err)
		}
	}
	var out bytes.Buffer
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "_") || !strings.HasSuffix(base, ".yaml") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, base, data); err != nil {
			fail("execution error at (%s): %v", base, err)
		}
		if strings.TrimSpace(buf.String()) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s/templates/%s\n%s\n", meta["name"], base, strings.TrimSpace(buf.String()))
	}
	os.Stdout.Write(out.Bytes())
}
