package xray

import "google.golang.org/grpc/connectivity"

// ConnState exposes the gRPC connection's state to the hang test.
func (c *Client) ConnState() connectivity.State { return c.conn.GetState() }
