// Package nodeadmin is the operators' side of Xray nodes, shared by the
// bot's /node and /nodes commands and `starter nodes`: one syntax, one
// validation, one list.
//
//	list
//	add name=<name> region=<region> api=<host:port> host=<public host> pbk=<key> sni=<server name> capacity=<n> [port=443] [tag=vless-in] [sid=<hex>]
//	set <name> <key>=<value>…
//	drain <name> | disable <name> | enable <name>
//
// Changes go to the node rows only: the worker reads them (its Xray
// registry, placement, the scheduled work) on its own.
package nodeadmin

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"vpnflow/internal/store"
)

// Operations.
const (
	OpList    = "list"
	OpAdd     = "add"
	OpSet     = "set"
	OpDrain   = "drain"
	OpDisable = "disable"
	OpEnable  = "enable"
)

// Usage is the commands' syntax, after the command's own name.
const Usage = `list
add name=<name> region=<region> api=<host:port> host=<public host> pbk=<REALITY public key> sni=<server name> capacity=<users> [port=443] [tag=vless-in] [sid=<short id>] [agent=<session agent url>]
set <name> <field>=<value>…   (fields as for add, but name; agent=none removes the agent)
drain <name>     place no new users, move its users to other nodes gradually
disable <name>   out of service: no new users, not probed, watched or reconciled
enable <name>    take new users again`

// Request is a parsed command.
type Request struct {
	Op     string
	Name   string            // the node: set, drain, disable, enable
	Fields map[string]string // add, set: field=value as given
}

// fields are the settings add and set take, with what they are.
var fields = []string{"name", "region", "api", "tag", "host", "port", "pbk", "sni", "sid", "capacity", "agent"}

// required are the fields add must be given.
var required = []string{"name", "region", "api", "host", "pbk", "sni", "capacity"}

// ErrUsage wraps every parse error: the message says what is wrong.
var ErrUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Parse reads a command's arguments.
func Parse(args []string) (Request, error) {
	if len(args) == 0 {
		return Request{Op: OpList}, nil
	}
	r := Request{Op: strings.ToLower(args[0])}
	rest := args[1:]
	switch r.Op {
	case OpList:
		if len(rest) > 0 {
			return r, usageError("list takes no arguments")
		}
	case OpAdd:
		f, err := parseFields(rest)
		if err != nil {
			return r, err
		}
		var missing []string
		for _, k := range required {
			if f[k] == "" {
				missing = append(missing, k+"=")
			}
		}
		if len(missing) > 0 {
			return r, usageError("add needs %s", strings.Join(missing, " "))
		}
		r.Name, r.Fields = f["name"], f
	case OpSet:
		if len(rest) < 2 {
			return r, usageError("set needs a node name and at least one field=value")
		}
		f, err := parseFields(rest[1:])
		if err != nil {
			return r, err
		}
		if _, ok := f["name"]; ok {
			return r, usageError("a node's name cannot be changed (add a new node instead)")
		}
		r.Name, r.Fields = rest[0], f
	case OpDrain, OpDisable, OpEnable:
		if len(rest) != 1 {
			return r, usageError("%s needs exactly one node name", r.Op)
		}
		r.Name = rest[0]
	default:
		return r, usageError("unknown operation %q (list, add, set, drain, disable, enable)", args[0])
	}
	if r.Name != "" && !store.ValidNodeName(r.Name) {
		return r, usageError("node name %q must be 1-32 of a-z 0-9 - (not starting with -)", r.Name)
	}
	return r, nil
}

func parseFields(args []string) (map[string]string, error) {
	f := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(k)
		switch {
		case !ok:
			return nil, usageError("%q is not field=value", a)
		case !slices.Contains(fields, k):
			return nil, usageError("unknown field %q (fields: %s)", k, strings.Join(fields, " "))
		case v == "":
			return nil, usageError("%s= has no value", k)
		}
		if _, dup := f[k]; dup {
			return nil, usageError("%s= given twice", k)
		}
		f[k] = v
	}
	return f, nil
}

// Apply puts the fields onto n: the node to add (from a zero Node with
// the defaults) or the node to change. Values are checked as a whole by
// store.Node.Validate when the node is written.
func Apply(n store.Node, f map[string]string) (store.Node, error) {
	for k, v := range f {
		switch k {
		case "name":
			n.Name = v
		case "region":
			n.Region = v
		case "api":
			n.APIAddr = v
		case "tag":
			n.InboundTag = v
		case "host":
			n.Host = v
		case "pbk":
			n.PublicKey = v
		case "sni":
			n.SNI = v
		case "sid":
			n.ShortID = strings.ToLower(v)
		case "agent":
			// A node on another machine than the workers ends revoked
			// keys' sessions through its session agent.
			n.AgentURL = v
			if v == "none" {
				n.AgentURL = ""
			}
		case "port", "capacity":
			i, err := strconv.Atoi(v)
			if err != nil {
				return n, usageError("%s=%q is not a whole number", k, v)
			}
			if k == "port" {
				n.Port = i
			} else {
				n.Capacity = i
			}
		}
	}
	return n, nil
}

// NewNode is a node to add with the defaults of the optional fields.
func NewNode() store.Node {
	return store.Node{Port: 443, InboundTag: "vless-in", State: store.NodeEnabled}
}

// stateOf is the state an operation moves a node to.
func stateOf(op string) string {
	switch op {
	case OpDrain:
		return store.NodeDraining
	case OpDisable:
		return store.NodeDisabled
	}
	return store.NodeEnabled
}
