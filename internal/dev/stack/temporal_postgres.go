package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"vpnflow/internal/shop"
)

// TemporalPostgresOptions configures the production profile: the Temporal
// server itself (not the CLI's dev server) with its state in PostgreSQL.
type TemporalPostgresOptions struct {
	// Postgres is the cluster the server's two databases live in; the
	// project's local cluster, beside its own database.
	Postgres *Postgres
	// Dir holds the generated config files.
	Dir       string
	Port      int // the frontend's; 0 picks every port free
	Namespace string
	Log       io.Writer // the server's own output and the schema tool's; nil discards it
}

// How long namespace changes take to reach every service: the server's
// system.namespaceCacheRefreshInterval default.
const temporalNamespaceRefresh = 2 * time.Second

// TemporalRetention is how long the namespace keeps closed workflows'
// histories when this package creates it.
const TemporalRetention = 72 * time.Hour

// StartTemporalPostgres brings the server's databases and schema up to
// date, starts the server with frontend, history, matching and worker in
// one process, registers the namespace and vpnflow's search attributes if
// they are missing, and waits until the namespace is served. A second call
// on the same databases finds everything in place and keeps the history,
// and so does Restart after Stop or Kill.
func StartTemporalPostgres(ctx context.Context, opts TemporalPostgresOptions) (*TemporalServer, error) {
	if opts.Postgres == nil {
		return nil, errors.New("start temporal on postgres: no PostgreSQL cluster given")
	}
	if opts.Dir == "" {
		return nil, errors.New("start temporal on postgres: no state directory given")
	}
	path, err := TemporalServerTool.Find()
	if err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	dbs := defaultTemporalDatabases
	if err := prepareTemporalDatabases(ctx, opts.Postgres, dbs, opts.Log); err != nil {
		return nil, err
	}
	// Eight ports picked free can be taken by a parallel test's server
	// before this one binds them, and the server then exits at start-up:
	// pick again a few times. Fixed ports get one try.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		ports, err := pickTemporalPorts(opts.Port)
		if err != nil {
			return nil, err
		}
		args, err := writeTemporalConfig(opts.Dir, opts.Postgres, dbs, ports)
		if err != nil {
			return nil, err
		}
		s := &TemporalServer{
			Address:   net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Frontend)),
			Namespace: opts.Namespace,
			path:      path,
			args:      args,
			log:       opts.Log,
			what:      "temporal server " + TemporalServerVersion + " (PostgreSQL)",
		}
		s.provision = s.provisionNamespace
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		if i+1 >= attempts || !errors.Is(err, errExitedAtStart) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// errExitedAtStart marks a server process that ended before it served.
var errExitedAtStart = errors.New("exited during start-up")

// provisionNamespace waits for the frontend, then makes sure the namespace
// and vpnflow's search attributes exist. The dev server does the same from
// its --namespace and --search-attribute flags; the real server has no such
// flags, so it is done through the API, as an operator would with the CLI.
func (s *TemporalServer) provisionNamespace(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := s.dialWhenUp(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	created, err := s.ensureNamespace(ctx, c)
	if err != nil {
		return err
	}
	added, err := s.ensureSearchAttributes(ctx, c)
	if err != nil {
		return err
	}
	if created || added {
		// The frontend now knows them (ensureSearchAttributes checked); the
		// history service's cache refreshes on its own clock. Waiting one
		// interval spares the first workflows a failed task and a retry.
		select {
		case <-time.After(temporalNamespaceRefresh):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// dialWhenUp retries until the frontend answers (the SDK's dial calls
// GetSystemInfo) or the process exits.
func (s *TemporalServer) dialWhenUp(ctx context.Context) (client.Client, error) {
	var lastErr error
	for {
		select {
		case err := <-s.done:
			s.done <- err // keep it for waitReady and Stop
			return nil, fmt.Errorf("%s %w: %v (its log says why)", s.what, errExitedAtStart, err)
		default:
		}
		c, err := client.Dial(client.Options{HostPort: s.Address, Namespace: s.Namespace, Logger: sdklog.NewStructuredLogger(discardLogger())})
		if err == nil {
			return c, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s on %s did not answer: %v", s.what, s.Address, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureNamespace registers the namespace unless it exists; it reports
// whether it did.
func (s *TemporalServer) ensureNamespace(ctx context.Context, c client.Client) (bool, error) {
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, describeNamespace(s.Namespace))
		if err == nil {
			return false, nil
		}
		var notFound *serviceerror.NamespaceNotFound
		if errors.As(err, &notFound) {
			break
		}
		if err := s.retry(ctx, err, "describe namespace "+s.Namespace); err != nil {
			return false, err
		}
	}
	for {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        s.Namespace,
			Description:                      "vpnflow",
			WorkflowExecutionRetentionPeriod: durationpb.New(TemporalRetention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			return err == nil, nil
		}
		if err := s.retry(ctx, err, "register namespace "+s.Namespace); err != nil {
			return false, err
		}
	}
}

// ensureSearchAttributes adds whichever of vpnflow's search attributes the
// namespace lacks, then waits until the frontend accepts a query on all of
// them, which is when workflows may set them. It reports whether it added
// any.
func (s *TemporalServer) ensureSearchAttributes(ctx context.Context, c client.Client) (bool, error) {
	want := map[string]enumspb.IndexedValueType{}
	for key := range shop.AllSearchAttributes().GetUntypedValues() {
		want[key.GetName()] = key.GetValueType()
	}
	var missing map[string]enumspb.IndexedValueType
	for {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace})
		if err == nil {
			missing = map[string]enumspb.IndexedValueType{}
			for name, typ := range want {
				if have, ok := resp.GetCustomAttributes()[name]; !ok {
					missing[name] = typ
				} else if have != typ {
					return false, fmt.Errorf("search attribute %s is a %s in namespace %s, vpnflow needs a %s", name, have, s.Namespace, typ)
				}
			}
			break
		}
		if err := s.retry(ctx, err, "list search attributes"); err != nil {
			return false, err
		}
	}
	for len(missing) > 0 {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: s.Namespace, SearchAttributes: missing,
		})
		if err == nil {
			break
		}
		if err := s.retry(ctx, err, "add search attributes"); err != nil {
			return false, err
		}
	}
	query := searchAttributesQuery(want)
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: s.Namespace, Query: query,
		})
		if err == nil {
			return len(missing) > 0, nil
		}
		if err := s.retry(ctx, err, "query on the new search attributes ("+query+")"); err != nil {
			return false, err
		}
	}
}

// searchAttributesQuery names every attribute once; the frontend rejects a
// query on an attribute its namespace cache does not know yet.
func searchAttributesQuery(attrs map[string]enumspb.IndexedValueType) string {
	var terms []string
	for name, typ := range attrs {
		v := "''"
		switch typ {
		case enumspb.INDEXED_VALUE_TYPE_INT, enumspb.INDEXED_VALUE_TYPE_DOUBLE:
			v = "0"
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			v = "false"
		case enumspb.INDEXED_VALUE_TYPE_DATETIME:
			v = "'2000-01-01T00:00:00Z'"
		}
		terms = append(terms, name+" = "+v)
	}
	sort.Strings(terms)
	return strings.Join(terms, " OR ")
}

// retry waits a moment and returns nil while ctx lasts and the server
// runs: right after start-up the services are still joining and their
// caches filling, and an error then says nothing yet. Otherwise it returns
// the last error.
func (s *TemporalServer) retry(ctx context.Context, err error, what string) error {
	select {
	case exit := <-s.done:
		s.done <- exit // keep it for Stop
		return fmt.Errorf("%s: %v (the server %w: %v; its log says why)", what, err, errExitedAtStart, exit)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w (gave up: %v)", what, err, ctx.Err())
	case <-time.After(250 * time.Millisecond):
		return nil
	}
}
