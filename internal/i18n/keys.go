package i18n

import (
	"fmt"
	"slices"
	"text/template"
	"text/template/parse"
)

// templateKeys parses src the way rendering will and returns the top-level
// data keys it reads ({{.Name}} → "Name"), so that rendering can check the
// caller supplied them and New can check translations agree on them.
func templateKeys(src string) ([]string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	if t.Tree != nil {
		if err := collectKeys(t.Tree.Root, seen); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

func collectKeys(n parse.Node, seen map[string]bool) error {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := collectKeys(c, seen); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return collectKeys(n.Pipe, seen)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := collectKeys(c, seen); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := collectKeys(a, seen); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		seen[n.Ident[0]] = true
	case *parse.IfNode:
		return collectBranch(&n.BranchNode, seen)
	case *parse.TextNode, *parse.StringNode, *parse.NumberNode, *parse.BoolNode,
		*parse.IdentifierNode, *parse.DotNode, *parse.NilNode:
	default:
		// range, with, define, template and variables change what "." means
		// or hide reads; the catalogue has no need for them.
		return fmt.Errorf("template construct %q is not supported in messages", n.String())
	}
	return nil
}

func collectBranch(b *parse.BranchNode, seen map[string]bool) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := collectKeys(n, seen); err != nil {
			return err
		}
	}
	return nil
}
