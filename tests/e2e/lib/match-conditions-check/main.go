// Command match-conditions-check decides, for each Pod of a case file, whether the API server
// would call each admission webhook of a webhook configuration, by evaluating the webhooks'
// CEL matchConditions with cel-go, the library the API server uses for them.
//
//	match-conditions-check --config WEBHOOKS.yaml --pods PODS.yaml
//
// WEBHOOKS.yaml holds MutatingWebhookConfiguration and ValidatingWebhookConfiguration objects
// (other kinds are skipped), as `kubectl kustomize` prints them. PODS.yaml holds Pods written as
// the API server hands them to admission (after decoding and defaulting). A Pod states what it
// expects with the annotations
//
//	match-conditions.test/mutating: call | skip
//	match-conditions.test/validating: call | skip
//
// and every webhook of that kind is checked against it; without the annotation the outcome is
// only printed. Written in Go because no C++ CEL implementation is packaged in Debian, and the
// point is to run the same expression engine the API server runs.
//
// The API server's rule for matchConditions (admissionregistration.k8s.io/v1): the webhook is
// called when every condition is true; it is skipped when any is false; otherwise (some
// condition failed to evaluate) failurePolicy decides: Ignore skips the webhook, Fail rejects
// the request. An evaluation error is always reported as a failure here, because an expression
// that cannot evaluate a valid Pod is a bug either way.
//
// What this does not model: the API server's Kubernetes CEL extension libraries (authorizer,
// quantity, URL, regex, ...), which make a compile error here; rules, namespaceSelector and
// objectSelector (the cases are Pod CREATE requests the rules are meant to match); cost limits.
//
// Output: one PASS, FAIL or INFO line per webhook and Pod, then `match-conditions: N passed, N
// failed`. Exit status 0 when nothing failed, 1 when something did, 2 on bad input.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"gopkg.in/yaml.v3"
)

const (
	expectPrefix = "match-conditions.test/"
	// The API server's limit on the number of matchConditions of one webhook.
	maxConditions = 64
)

var conditionName = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

type condition struct {
	name    string
	program cel.Program
}

type webhook struct {
	kind       string // "mutating" or "validating"
	config     string // the configuration's metadata.name
	name       string
	policy     string // failurePolicy, "Fail" when absent (the v1 default)
	conditions []condition
}

func (w *webhook) String() string { return w.kind + "/" + w.config + "/" + w.name }

// readDocuments parses a multi-document YAML file into generic maps.
func readDocuments(path string) ([]map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := yaml.NewDecoder(bytes.NewReader(data))
	var documents []map[string]interface{}
	for index := 1; ; index++ {
		var document map[string]interface{}
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return documents, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: YAML document %d: %v", path, index, err)
		}
		if document != nil {
			documents = append(documents, document)
		}
	}
}

func field(object map[string]interface{}, keys ...string) interface{} {
	var value interface{} = object
	for _, key := range keys {
		next, ok := value.(map[string]interface{})
		if !ok {
			return nil
		}
		value = next[key]
	}
	return value
}

func stringField(object map[string]interface{}, keys ...string) string {
	text, _ := field(object, keys...).(string)
	return text
}

// newEnvironment declares the variables the API server gives matchConditions (object,
// oldObject, request) and the standard extensions it enables that cel-go packages.
func newEnvironment() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.OptionalTypes(),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
	)
}

// compileWebhooks reads every webhook of the configurations in documents, compiling its
// conditions and checking them against the API server's validation rules.
func compileWebhooks(env *cel.Env, documents []map[string]interface{}, path string) ([]*webhook, error) {
	var webhooks []*webhook
	for _, document := range documents {
		kind := stringField(document, "kind")
		var short string
		switch kind {
		case "MutatingWebhookConfiguration":
			short = "mutating"
		case "ValidatingWebhookConfiguration":
			short = "validating"
		default:
			continue
		}
		config := stringField(document, "metadata", "name")
		list, _ := document["webhooks"].([]interface{})
		for index, item := range list {
			entry, ok := item.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("%s: %s %s: webhooks[%d] is not an object", path, kind, config, index)
			}
			hook := &webhook{kind: short, config: config, name: stringField(entry, "name"),
				policy: stringField(entry, "failurePolicy")}
			if hook.policy == "" {
				hook.policy = "Fail"
			}
			raw, present := entry["matchConditions"]
			conditions, ok := raw.([]interface{})
			if present && raw != nil && !ok {
				return nil, fmt.Errorf("%s: %s: matchConditions is not a list", path, hook)
			}
			if len(conditions) > maxConditions {
				return nil, fmt.Errorf("%s: %s: %d matchConditions, the API server allows %d", path,
					hook, len(conditions), maxConditions)
			}
			seen := map[string]bool{}
			for number, rawCondition := range conditions {
				item, ok := rawCondition.(map[string]interface{})
				if !ok {
					return nil, fmt.Errorf("%s: %s: matchConditions[%d] is not an object", path, hook, number)
				}
				name := stringField(item, "name")
				expression := stringField(item, "expression")
				where := fmt.Sprintf("%s: %s: matchConditions[%d] (%q)", path, hook, number, name)
				if len(name) == 0 || len(name) > 63 || !conditionName.MatchString(name) {
					return nil, fmt.Errorf("%s: the name must be a qualified name (alphanumerics, '-', '_', '.', at most 63)", where)
				}
				if seen[name] {
					return nil, fmt.Errorf("%s: the name is used twice", where)
				}
				seen[name] = true
				if strings.TrimSpace(expression) == "" {
					return nil, fmt.Errorf("%s: empty expression", where)
				}
				ast, issues := env.Compile(expression)
				if issues != nil && issues.Err() != nil {
					return nil, fmt.Errorf("%s: does not compile (the API server's Kubernetes CEL "+
						"libraries, such as authorizer, are not modelled here): %v", where, issues.Err())
				}
				if output := ast.OutputType(); !output.IsExactType(types.BoolType) && !output.IsExactType(types.DynType) {
					return nil, fmt.Errorf("%s: evaluates to %s, the API server requires bool", where, output)
				}
				program, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
				if err != nil {
					return nil, fmt.Errorf("%s: %v", where, err)
				}
				hook.conditions = append(hook.conditions, condition{name: name, program: program})
			}
			webhooks = append(webhooks, hook)
		}
	}
	return webhooks, nil
}

// admissionRequest is the part of an AdmissionRequest a condition may read, for a Pod CREATE.
func admissionRequest(pod map[string]interface{}) map[string]interface{} {
	return map[string]interface{}{
		"operation":       "CREATE",
		"kind":            map[string]interface{}{"group": "", "version": "v1", "kind": "Pod"},
		"resource":        map[string]interface{}{"group": "", "version": "v1", "resource": "pods"},
		"requestKind":     map[string]interface{}{"group": "", "version": "v1", "kind": "Pod"},
		"requestResource": map[string]interface{}{"group": "", "version": "v1", "resource": "pods"},
		"name":            stringField(pod, "metadata", "name"),
		"namespace":       stringField(pod, "metadata", "namespace"),
		"userInfo":        map[string]interface{}{"username": "match-conditions-check"},
		"dryRun":          false,
	}
}

// decide applies the API server's rule: call when all conditions are true, skip when one is
// false; otherwise the error of the first condition that failed to evaluate.
func decide(hook *webhook, pod map[string]interface{}) (string, string, error) {
	activation := map[string]interface{}{"object": pod, "oldObject": nil, "request": admissionRequest(pod)}
	var firstError error
	for _, condition := range hook.conditions {
		value, _, err := condition.program.Eval(activation)
		if err == nil {
			if result, ok := value.Value().(bool); ok {
				if !result {
					return "skip", "condition " + condition.name + " is false", nil
				}
				continue
			}
			err = fmt.Errorf("evaluates to %v, not a bool", value)
		}
		if firstError == nil {
			firstError = fmt.Errorf("condition %s: %v", condition.name, err)
		}
	}
	if firstError != nil {
		return "", "", firstError
	}
	if len(hook.conditions) == 0 {
		return "call", "no matchConditions", nil
	}
	return "call", fmt.Sprintf("all %d conditions true", len(hook.conditions)), nil
}

func main() {
	configPath := flag.String("config", "", "YAML with MutatingWebhookConfiguration / ValidatingWebhookConfiguration objects")
	podsPath := flag.String("pods", "", "YAML with the Pods to decide for")
	flag.Parse()
	if *configPath == "" || *podsPath == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: match-conditions-check --config WEBHOOKS.yaml --pods PODS.yaml")
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "match-conditions-check: %v\n", err)
		os.Exit(2)
	}
	env, err := newEnvironment()
	if err != nil {
		fail(err)
	}
	configs, err := readDocuments(*configPath)
	if err != nil {
		fail(err)
	}
	webhooks, err := compileWebhooks(env, configs, *configPath)
	if err != nil {
		fail(err)
	}
	if len(webhooks) == 0 {
		fail(fmt.Errorf("%s: no MutatingWebhookConfiguration or ValidatingWebhookConfiguration with webhooks", *configPath))
	}
	pods, err := readDocuments(*podsPath)
	if err != nil {
		fail(err)
	}
	passed, failed := 0, 0
	for index, pod := range pods {
		name := stringField(pod, "metadata", "name")
		if stringField(pod, "kind") != "Pod" || name == "" {
			fail(fmt.Errorf("%s: document %d is not a Pod with a metadata.name", *podsPath, index+1))
		}
		for _, hook := range webhooks {
			expected := stringField(pod, "metadata", "annotations", expectPrefix+hook.kind)
			if expected != "" && expected != "call" && expected != "skip" {
				fail(fmt.Errorf("%s: pod %s: %s%s must be call or skip, not %q", *podsPath, name,
					expectPrefix, hook.kind, expected))
			}
			outcome, why, err := decide(hook, pod)
			switch {
			case err != nil:
				failed++
				fmt.Printf("FAIL %s pod %s: evaluation error (failurePolicy %s would %s): %v\n", hook, name,
					hook.policy, map[bool]string{true: "skip the webhook", false: "reject the pod"}[hook.policy == "Ignore"], err)
			case expected == "":
				fmt.Printf("INFO %s pod %s: %s (%s)\n", hook, name, outcome, why)
			case expected == outcome:
				passed++
				fmt.Printf("PASS %s pod %s: %s (%s)\n", hook, name, outcome, why)
			default:
				failed++
				fmt.Printf("FAIL %s pod %s: %s (%s), expected %s\n", hook, name, outcome, why, expected)
			}
		}
	}
	fmt.Printf("match-conditions: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
